// Listening sockets: bound by the master (as root, before any fork) and
// inherited by every worker. A reload keeps the sockets whose address is
// unchanged, so no connection waiting in a backlog is ever lost.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "core/status.h"

namespace drover::master {

struct Listener {
  int fd = -1;
  config::ListenConfig config;
  std::string Key() const;  // "host:port"
};

// Binds every Listen of `config`; takes over sockets from `previous` whose
// address matches (they are moved out of `previous`). On failure closes what
// it opened and returns "bind(ADDR) failed (98: Address already in use)".
core::Result<std::vector<Listener>> OpenListeners(const config::Config& config,
                                                  std::vector<Listener>* previous);
void CloseListeners(std::vector<Listener>* listeners);

}  // namespace drover::master
