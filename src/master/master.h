// The master process (SPEC §3): owns the config, the listening sockets, the
// log files and the shm slot table; forks workers and supervises them from a
// sigsuspend() loop whose signal handlers only set flags (nginx's
// ngx_master_process_cycle). It never handles client traffic and never
// creates an event base.
#pragma once

#include <memory>
#include <string>

#include "config/config.h"

namespace drover::master {

struct MasterOptions {
  config::LoadOptions load;   // to re-read the config on HUP
  bool foreground = false;    // -F
};

// Runs until shutdown. Returns the process exit status (0, or 2 when it
// could not start: port in use, pid file of a live drover, ...), having
// printed one line naming the cause on stderr.
int RunMaster(std::shared_ptr<const config::Config> config, const MasterOptions& options);

// -s SIGNAL: sends the signal to the master named in the config's PidFile.
int SendSignal(const config::Config& config, const std::string& signal_name);

}  // namespace drover::master
