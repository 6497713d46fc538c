// StatusContext::HandleMetrics: the Prometheus text exposition (format 0.0.4)
// of every balancer and member, plus process figures the caller passes. Runs
// in workers; reads consistent snapshots of the shm slots (members.h). Each
// family is written whole (HELP, TYPE, then every sample), as the format requires.
#include <functional>

#include "status/members.h"
#include "status/render.h"
#include "status/status.h"
#include "status/text.h"

#ifndef DROVER_VERSION
#define DROVER_VERSION "unknown"
#endif

namespace drover::status {
namespace {

void Family(std::string* out, const char* name, const char* type, const char* help) {
  out->append("# HELP ");
  out->append(name);
  out->push_back(' ');
  out->append(help);
  out->append("\n# TYPE ");
  out->append(name);
  out->push_back(' ');
  out->append(type);
  out->push_back('\n');
}

std::string MemberLabels(const BalancerSnapshot& b, const MemberSnapshot& m) {
  return "balancer=\"" + PromEscape(b.name) + "\",member=\"" + PromEscape(m.url) +
         "\",route=\"" + PromEscape(m.route) + "\"";
}

using MemberValue = std::function<std::string(const MemberSnapshot&)>;

void MemberFamily(std::string* out, const std::vector<BalancerSnapshot>& snaps, const char* name,
                  const char* type, const char* help, const MemberValue& value,
                  const std::string& extra_label = "") {
  Family(out, name, type, help);
  for (const BalancerSnapshot& b : snaps) {
    for (const MemberSnapshot& m : b.members) {
      out->append(name);
      out->push_back('{');
      out->append(MemberLabels(b, m));
      out->append(extra_label);
      out->append("} ");
      out->append(value(m));
      out->push_back('\n');
    }
  }
}

std::string U(uint64_t v) { return std::to_string(v); }
std::string I(int64_t v) { return std::to_string(v); }
std::string Seconds(int64_t ms) { return FormatDouble(static_cast<double>(ms) / 1000.0); }

}  // namespace

StatusResponse StatusContext::HandleMetrics(const StatusRequest& req, int64_t now_ms,
                                            const ProcessStats* process) {
  StatusResponse r;
  r.headers.emplace_back("Cache-Control", "no-store");
  if (!Allowed(req.client_ip)) {
    r.status = 403;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "forbidden: " + std::string(req.client_ip) + " is not in StatusAllow\n";
    return r;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    r.status = 405;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "method not allowed\n";
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  std::vector<BalancerSnapshot> snaps;
  snaps.reserve(balancers_->size());
  for (const balancer::Balancer& b : *balancers_) {
    snaps.push_back(Snapshot(b, now_ms));
  }
  std::string out;
  out.reserve(4096 + snaps.size() * 4096);

  MemberFamily(&out, snaps, "drover_member_requests_total", "counter",
               "Requests the balancer assigned to the member (Apache's elected).",
               [](const MemberSnapshot& m) { return U(m.elected); });
  MemberFamily(&out, snaps, "drover_member_busy", "gauge",
               "Requests in flight on the member, all workers together.",
               [](const MemberSnapshot& m) { return I(m.busy); });
  Family(&out, "drover_member_bytes_total", "counter",
         "Bytes read from the member (direction=\"in\") and sent to it (direction=\"out\").");
  for (const BalancerSnapshot& b : snaps) {
    for (const MemberSnapshot& m : b.members) {
      std::string labels = MemberLabels(b, m);
      out.append("drover_member_bytes_total{" + labels + ",direction=\"in\"} " + U(m.bytes_in) +
                 "\n");
      out.append("drover_member_bytes_total{" + labels + ",direction=\"out\"} " +
                 U(m.bytes_out) + "\n");
    }
  }
  MemberFamily(&out, snaps, "drover_member_failures_total", "counter",
               "Connect failures, failonstatus and failontimeout hits on the member.",
               [](const MemberSnapshot& m) { return U(m.failures); });
  MemberFamily(&out, snaps, "drover_member_retries_total", "counter",
               "Times the member's error state was cleared after its retry window.",
               [](const MemberSnapshot& m) { return U(m.retries); });
  MemberFamily(&out, snaps, "drover_member_up", "gauge",
               "1 when the member can take requests now (no D, S, C, or E within its retry "
               "window), else 0.",
               [](const MemberSnapshot& m) { return std::string(m.usable ? "1" : "0"); });
  MemberFamily(&out, snaps, "drover_member_lbstatus", "gauge",
               "The lbmethod's running score of the member (Apache's lbstatus).",
               [](const MemberSnapshot& m) { return I(m.lbstatus); });
  MemberFamily(&out, snaps, "drover_member_lbfactor", "gauge",
               "The member's loadfactor times 100 (Apache's lbfactor).",
               [](const MemberSnapshot& m) { return I(m.lbfactor); });
  MemberFamily(&out, snaps, "drover_member_lbset", "gauge", "The member's lbset.",
               [](const MemberSnapshot& m) { return I(m.lbset); });
  Family(&out, "drover_member_status_flag", "gauge",
         "1 when the member has the status flag (I N D H R S E C, Apache's letters), else 0.");
  for (const BalancerSnapshot& b : snaps) {
    for (const MemberSnapshot& m : b.members) {
      std::string labels = MemberLabels(b, m);
      for (char letter : std::string_view("INDHRSEC")) {
        uint32_t bit = 0;
        config::ApplyStatusString(std::string(1, letter), &bit);
        out.append("drover_member_status_flag{" + labels + ",flag=\"" + letter + "\"} " +
                   ((m.status & bit) != 0 ? "1" : "0") + "\n");
      }
    }
  }
  MemberFamily(&out, snaps, "drover_member_error_time_seconds", "gauge",
               "Unix time the member last went into error (0 = never).",
               [](const MemberSnapshot& m) { return Seconds(m.error_time_ms); });
  MemberFamily(&out, snaps, "drover_member_health_check_ok", "gauge",
               "0 when the member failed its health checks (flag C), else 1 (also without a "
               "health check).",
               [](const MemberSnapshot& m) {
                 return std::string((m.status & config::kFlagHcFailed) != 0 ? "0" : "1");
               });
  MemberFamily(&out, snaps, "drover_member_health_check_last_seconds", "gauge",
               "Unix time of the member's last health check (0 = none yet or none configured).",
               [](const MemberSnapshot& m) { return Seconds(m.hc_last_ms); });

  auto balancer_family = [&](const char* name, const char* type, const char* help,
                             const std::function<std::string(const BalancerSnapshot&)>& value) {
    Family(&out, name, type, help);
    for (const BalancerSnapshot& b : snaps) {
      out.append(std::string(name) + "{balancer=\"" + PromEscape(b.name) + "\"} " + value(b) +
                 "\n");
    }
  };
  balancer_family("drover_balancer_members", "gauge", "Members in the balancer (removed ones not).",
                  [](const BalancerSnapshot& b) { return U(b.members.size()); });
  balancer_family("drover_balancer_usable_members", "gauge", "Members that can take requests now.",
                  [](const BalancerSnapshot& b) {
                    uint64_t n = 0;
                    for (const MemberSnapshot& m : b.members) {
                      n += m.usable ? 1 : 0;
                    }
                    return U(n);
                  });
  balancer_family("drover_balancer_capacity", "gauge",
                  "Member slots of the balancer (its members plus growth).",
                  [](const BalancerSnapshot& b) { return U(b.capacity); });
  balancer_family("drover_balancer_lock_recoveries_total", "counter",
                  "Times a process died holding the balancer's lock and the lock was recovered.",
                  [](const BalancerSnapshot& b) { return U(b.lock_recoveries); });
  Family(&out, "drover_balancer_info", "gauge", "The balancer's lbmethod, as a label (value 1).");
  for (const BalancerSnapshot& b : snaps) {
    out.append("drover_balancer_info{balancer=\"" + PromEscape(b.name) + "\",lbmethod=\"" +
               config::LbMethodName(b.lbmethod) + "\"} 1\n");
  }

  Family(&out, "drover_build_info", "gauge", "drover's version, as a label (value 1).");
  out.append("drover_build_info{version=\"" + PromEscape(DROVER_VERSION) + "\"} 1\n");
  uint64_t generation = process != nullptr && process->generation != 0
                            ? process->generation
                            : table_->header().generation;
  Family(&out, "drover_generation", "gauge", "Reload generation (1 at start, +1 per HUP).");
  out.append("drover_generation " + U(generation) + "\n");
  if (process != nullptr) {
    Family(&out, "drover_workers", "gauge", "Worker processes of the current generation.");
    out.append("drover_workers " + I(process->workers) + "\n");
    Family(&out, "drover_uptime_seconds", "gauge", "Seconds since the master started.");
    out.append("drover_uptime_seconds " + FormatDouble(process->uptime_seconds) + "\n");
    if (process->start_time_seconds > 0) {
      Family(&out, "drover_start_time_seconds", "gauge", "Unix time the master started.");
      out.append("drover_start_time_seconds " + FormatDouble(process->start_time_seconds) +
                 "\n");
    }
  }
  r.status = 200;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = std::move(out);
  return r;
}

}  // namespace drover::status
