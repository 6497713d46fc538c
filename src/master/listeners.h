// Listening sockets: bound by the master (as root, before any fork). Each
// Listen gets one SO_REUSEPORT socket per worker slot, so the kernel spreads
// new connections evenly over the workers; worker N of every generation
// accepts on slot N's socket. A reload keeps the sockets whose address and
// slot are unchanged, so a connection waiting in a backlog is simply accepted
// by the slot's next worker. (Lowering WorkerProcesses on reload closes the
// extra slots' sockets; connections queued on those, not yet accepted, are
// reset by the kernel.)
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "core/status.h"

namespace drover::master {

struct Listener {
  std::vector<int> fds;     // one per worker slot
  config::ListenConfig config;
  std::string Key() const;  // "host:port"
};

// Binds every Listen of `config` with `slots` sockets each; takes over sockets
// from `previous` whose address and slot match (they are moved out of
// `previous`). On failure gives back what it took, closes what it opened and
// returns "FILE:LINE: bind(ADDR) failed (98: Address already in use)".
core::Result<std::vector<Listener>> OpenListeners(const config::Config& config, int slots,
                                                  std::vector<Listener>* previous);
void CloseListeners(std::vector<Listener>* listeners);

}  // namespace drover::master
