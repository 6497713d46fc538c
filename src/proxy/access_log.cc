#include "proxy/access_log.h"

#include <time.h>

#include <cstdio>

#include "core/strings.h"

namespace drover::proxy {
namespace {

void AppendEscaped(std::string_view s, std::string* out) {
  // Apache escapes quotes, backslashes and non-printables in logged strings.
  static const char kHex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      out->append("\\x");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

void AppendDashIfEmpty(std::string_view s, std::string* out) {
  if (s.empty()) {
    out->push_back('-');
  } else {
    AppendEscaped(s, out);
  }
}

std::string_view FindHeader(const std::vector<http::Header>* hs, std::string_view name) {
  if (hs == nullptr) {
    return {};
  }
  for (const auto& h : *hs) {
    if (core::IEquals(h.name, name)) {
      return h.value;
    }
  }
  return {};
}

void AppendTime(int64_t us, std::string_view fmt, std::string* out) {
  time_t t = static_cast<time_t>(us / 1000000);
  struct tm tm;
  localtime_r(&t, &tm);
  char buf[128];
  if (fmt.empty()) {
    size_t n = strftime(buf, sizeof(buf), "[%d/%b/%Y:%H:%M:%S %z]", &tm);
    out->append(buf, n);
    return;
  }
  std::string f(fmt);
  size_t n = strftime(buf, sizeof(buf), f.c_str(), &tm);
  out->push_back('[');
  out->append(buf, n);
  out->push_back(']');
}

void AppendEnv(std::string_view name, const LogRecord& r, std::string* out) {
  if (name == "BALANCER_NAME") {
    AppendDashIfEmpty(r.balancer, out);
  } else if (name == "BALANCER_WORKER_NAME") {
    AppendDashIfEmpty(r.member, out);
  } else if (name == "BALANCER_WORKER_ROUTE") {
    AppendDashIfEmpty(r.route, out);
  } else if (name == "BALANCER_SESSION_ROUTE") {
    AppendDashIfEmpty(r.session_route, out);
  } else if (name == "BALANCER_ROUTE_CHANGED") {
    if (r.balancer.empty()) {
      out->push_back('-');
    } else {
      out->push_back(r.route_changed ? '1' : '0');
    }
  } else {
    out->push_back('-');
  }
}

}  // namespace

bool FormatUsesResponseHeaders(std::string_view format) {
  return format.find("}o") != std::string_view::npos;
}

void FormatAccessLog(std::string_view format, const LogRecord& r, std::string* out) {
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%' || i + 1 >= format.size()) {
      out->push_back(c);
      continue;
    }
    ++i;
    std::string_view arg;
    if (format[i] == '{') {
      size_t close = format.find('}', i);
      if (close == std::string_view::npos) {
        out->append(format.substr(i - 1));
        break;
      }
      arg = format.substr(i + 1, close - i - 1);
      i = close + 1;
      if (i >= format.size()) {
        break;
      }
    }
    // Status modifiers like %>s and %<s: drover has one status per request.
    while (i < format.size() && (format[i] == '>' || format[i] == '<')) {
      ++i;
    }
    if (i >= format.size()) {
      break;
    }
    switch (format[i]) {
      case '%': out->push_back('%'); break;
      case 'a':
      case 'h': AppendEscaped(r.client_ip, out); break;
      case 'l': out->push_back('-'); break;
      case 'u': out->push_back('-'); break;
      case 't': AppendTime(r.start_us, arg, out); break;
      case 'r':
        if (r.method.empty()) {
          out->push_back('-');
          break;
        }
        AppendEscaped(r.method, out);
        out->push_back(' ');
        AppendEscaped(r.target, out);
        out->append(r.minor == 0 ? " HTTP/1.0" : " HTTP/1.1");
        break;
      case 's': core::AppendUint(static_cast<uint64_t>(r.status), out); break;
      case 'b':
        if (r.body_bytes == 0) {
          out->push_back('-');
        } else {
          core::AppendUint(r.body_bytes, out);
        }
        break;
      case 'B': core::AppendUint(r.body_bytes, out); break;
      case 'I': core::AppendUint(r.bytes_received, out); break;
      case 'O': core::AppendUint(r.bytes_sent, out); break;
      case 'D': core::AppendUint(static_cast<uint64_t>(r.duration_us), out); break;
      case 'T': core::AppendUint(static_cast<uint64_t>(r.duration_us / 1000000), out); break;
      case 'm': AppendEscaped(r.method, out); break;
      case 'U': AppendEscaped(r.path, out); break;
      case 'q':
        if (r.has_query) {
          out->push_back('?');
          AppendEscaped(r.query, out);
        }
        break;
      case 'H': out->append(r.minor == 0 ? "HTTP/1.0" : "HTTP/1.1"); break;
      case 'v':
      case 'V': AppendEscaped(r.server_name, out); break;
      case 'p': core::AppendUint(r.local_port, out); break;
      case 'P': core::AppendUint(r.pid, out); break;
      case 'k': out->push_back(r.keep_alive ? '1' : '0'); break;
      case 'X': out->push_back(r.keep_alive ? '+' : '-'); break;
      case 'i': AppendDashIfEmpty(FindHeader(r.request_headers, arg), out); break;
      case 'o': AppendDashIfEmpty(FindHeader(r.response_headers, arg), out); break;
      case 'e': AppendEnv(arg, r, out); break;
      default:
        out->push_back('%');
        out->push_back(format[i]);
        break;
    }
  }
  out->push_back('\n');
}

}  // namespace drover::proxy
