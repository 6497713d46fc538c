// Access log lines in Apache's LogFormat language (common, combined or a
// custom string of % codes), plus drover's balancer codes
// %{BALANCER_NAME}e, %{BALANCER_WORKER_NAME}e, %{BALANCER_WORKER_ROUTE}e,
// %{BALANCER_SESSION_ROUTE}e, %{BALANCER_ROUTE_CHANGED}e. Pure formatting:
// the worker writes the line with one write(2).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/parser.h"

namespace drover::proxy {

struct LogRecord {
  std::string_view client_ip;
  uint16_t client_port = 0;
  uint16_t local_port = 0;
  std::string_view server_name;
  int64_t start_us = 0;               // wall clock, microseconds
  int64_t duration_us = 0;
  std::string_view method;
  std::string_view target;            // as sent by the client
  std::string_view path;
  std::string_view query;
  bool has_query = false;
  int minor = 1;
  int status = 0;
  uint64_t body_bytes = 0;            // response body bytes sent to the client
  uint64_t bytes_received = 0;        // request bytes (head + body) read
  uint64_t bytes_sent = 0;            // response bytes (head + body) written
  const std::vector<http::Header>* request_headers = nullptr;
  const std::vector<http::Header>* response_headers = nullptr;  // as sent to the client
  std::string_view balancer;
  std::string_view member;
  std::string_view route;
  std::string_view session_route;
  bool route_changed = false;
  bool keep_alive = false;
  uint32_t pid = 0;
};

// Whether `format` may print a response header (%{Name}o): only then does the
// proxy keep the list of the headers it sent. Errs towards yes.
bool FormatUsesResponseHeaders(std::string_view format);

// Appends one log line (with '\n') for `rec` formatted by `format` to `out`.
void FormatAccessLog(std::string_view format, const LogRecord& rec, std::string* out);

}  // namespace drover::proxy
