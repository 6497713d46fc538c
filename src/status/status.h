// The balancer-manager (HTML page, JSON, edits through forms and a JSON API)
// and the Prometheus metrics page (SPEC §7). Pure request -> response code run
// by a worker (one StatusContext per worker) when a request's path is
// ServerConfig::balancer_manager (or below it: PATH/api/...) or
// ServerConfig::metrics, before the ProxyPass rules. No libevent, no sockets:
// the caller buffers the request body and sends the response. Edits are
// written into the shm slot table under the balancer's lock, so every worker
// sees them at once; SlotTable::Create keeps them across a HUP reload.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "balancer/balancer.h"
#include "config/config.h"
#include "shm/slot_table.h"

namespace drover::status {

struct StatusRequest {
  std::string_view method;        // "GET", "HEAD", "POST", "PUT", "DELETE", ...
  std::string_view path;          // as sent, without the query (percent-encoded)
  std::string_view query;         // without '?'
  std::string_view body;          // whole request body (the caller buffers up to 64 KiB)
  std::string_view content_type;  // Content-Type header value
  std::string_view referer;       // Referer header value ("" when absent)
  std::string_view host;          // Host header value
  std::string_view origin;        // Origin header value ("" when absent)
  std::string_view client_ip;     // peer address, e.g. "127.0.0.1", "::1", "::ffff:10.0.0.1"
  std::string_view nonce_header;  // X-Drover-Nonce header value ("" when absent)
};

struct StatusResponse {
  int status = 200;
  std::string content_type;  // "" when there is no body (e.g. 303)
  // Extra headers (Cache-Control, Location, Allow, Content-Security-Policy...).
  std::vector<std::pair<std::string, std::string>> headers;
  // For HEAD the body is the GET body: the caller sends only its length.
  std::string body;
};

// Process figures the caller may add to the metrics page.
struct ProcessStats {
  uint64_t generation = 0;      // reload generation (SlotTable header's if 0)
  int workers = 0;              // worker processes of this generation
  double uptime_seconds = 0;    // since the master started
  double start_time_seconds = 0;  // master start, Unix time (0 = not given)
};

class StatusContext {
 public:
  // All pointers must outlive the context. `balancers[i]` is balancer i of both
  // `config->balancers` and `table`. `nonce_secret`: random bytes the master
  // makes per generation (RAND_bytes) and gives every worker of that generation;
  // the nonce is derived from it, so all workers accept the same nonce. With an
  // empty secret every edit is refused (403).
  StatusContext(const config::Config* config, shm::SlotTable* table,
                std::vector<balancer::Balancer>* balancers, std::string nonce_secret);

  // StatusAllow: the client address is inside one of the CIDRs (IPv4, IPv6; a
  // v4-mapped IPv6 address matches IPv4 CIDRs and vice versa). Handle* check it too.
  bool Allowed(std::string_view client_ip) const;

  // Requests whose path is ServerConfig::balancer_manager or starts with it
  // followed by '/'. GET PATH (HTML; ?format=json for JSON), POST PATH (the
  // page's forms), and PATH/api/... (JSON API; see manager.cc). `now_ms` is
  // wall-clock ms.
  StatusResponse HandleManager(const StatusRequest& req, int64_t now_ms);

  // Requests whose path is ServerConfig::metrics: GET/HEAD, Prometheus text 0.0.4.
  StatusResponse HandleMetrics(const StatusRequest& req, int64_t now_ms,
                               const ProcessStats* process = nullptr);

  // The nonce every mutating request must carry ("" when there is no secret).
  const std::string& nonce() const { return nonce_; }

 private:
  struct Cidr {
    unsigned char addr[16];  // IPv4 as v4-mapped IPv6
    int bits;
  };

  balancer::Balancer* FindBalancer(std::string_view name);
  StatusResponse CheckMutation(const StatusRequest& req, std::string_view nonce_field) const;
  StatusResponse ManagerPage(const StatusRequest& req, int64_t now_ms);
  StatusResponse FormPost(const StatusRequest& req, int64_t now_ms);
  StatusResponse Api(const StatusRequest& req, std::string_view rest, int64_t now_ms);

  const config::Config* config_;
  shm::SlotTable* table_;
  std::vector<balancer::Balancer>* balancers_;
  std::string nonce_;
  std::string csp_;  // Content-Security-Policy of the HTML page (hash of its script)
  std::vector<Cidr> allow_;
};

}  // namespace drover::status
