// Worker process entry. Runs in a child forked by the master: drops
// privileges, builds its event loop, accepts and proxies until told to stop.
// This header is what the master sees of a worker: no libevent types here.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "shm/slot_table.h"

namespace drover::tls {
class ServerContext;
class ClientContext;
}  // namespace drover::tls

namespace drover::worker {

struct ListenSocket {
  int fd = -1;
  config::ListenConfig config;
};

// One per live worker, in a small MAP_SHARED array the master creates once:
// a worker says there whether it is accepting, so that on reload the master
// can wait for the old generation to stop accepting before forking the new
// one (a clean cut between configurations, and no lost connection: they wait
// in the listen backlog for the few milliseconds in between).
struct WorkerState {
  std::atomic<int32_t> pid;
  std::atomic<uint32_t> accepting;
};
constexpr int kMaxWorkerStates = 2048;

struct WorkerContext {
  WorkerState* state = nullptr;   // this worker's entry

  std::shared_ptr<const config::Config> config;
  std::vector<ListenSocket> listeners;
  shm::SlotTable* table = nullptr;
  int access_log_fd = -1;     // opened by the master; -1 when CustomLog is off
  uint64_t generation = 0;
  int slot = 0;               // worker number within its generation
  bool drop_privileges = true;
  std::string status_secret;  // per-generation random bytes for the manager's nonce
  // TLS contexts of this generation, built by the master (as root) and inherited through
  // fork; nullptr when no `ssl` listener / no https:// member needs one.
  tls::ServerContext* tls_server = nullptr;
  tls::ClientContext* tls_client = nullptr;
};

// Exit codes: 0 normal, 2 fatal (the master must not respawn, like nginx).
constexpr int kExitFatal = 2;

// Never returns to the caller's loop: the caller _exit()s with the result.
int RunWorker(const WorkerContext& ctx);

}  // namespace drover::worker
