#include "master/listeners.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace drover::master {

std::string Listener::Key() const {
  return config.host + ":" + std::to_string(config.port);
}

namespace {

core::Result<int> BindOne(const config::ListenConfig& lc) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (lc.host.find(':') != std::string::npos) {
    family = AF_INET6;
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(lc.port);
    if (inet_pton(AF_INET6, lc.host.c_str(), &s6->sin6_addr) != 1) {
      return core::Status::Error("invalid listen address '" + lc.text + "'");
    }
    len = sizeof(sockaddr_in6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(lc.port);
    if (inet_pton(AF_INET, lc.host.c_str(), &s4->sin_addr) != 1) {
      return core::Status::Error("invalid listen address '" + lc.text + "'");
    }
    len = sizeof(sockaddr_in);
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return core::Status::Error(std::string("socket() failed (") + std::to_string(errno) + ": " +
                               strerror(errno) + ")");
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    int e = errno;
    close(fd);
    return core::Status::Error("setsockopt(" + lc.text + ", SO_REUSEPORT) failed (" +
                               std::to_string(e) + ": " + strerror(e) + ")");
  }
  if (family == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 4096) != 0) {
    int e = errno;
    close(fd);
    return core::Status::Error("bind(" + lc.text + ") failed (" + std::to_string(e) + ": " +
                               strerror(e) + ")");
  }
  // Accepted sockets inherit delayed-ACK ("ping-pong") mode from the listening socket
  // (set after listen(), which resets it), so the ACK of a request rides on the
  // response instead of going out on its own: one segment less per connection.
  // HAProxy's tcp-smart-accept does the same.
  int zero = 0;
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero));
  return fd;
}

// TCP_DEFER_ACCEPT (AcceptFilter data): the kernel completes the handshake but hands
// the connection to accept() only once its first bytes have come, so the worker
// reads the request at once instead of registering the socket with epoll and
// waiting for it (two epoll_ctl and one more loop pass per connection; under
// Connection: close that is per request). A client that sends nothing is handed
// over after about this many seconds, Apache's value, and RequestHeaderTimeout then
// runs as usual. Set on every socket, taken over from the previous generation or
// new, so that a reload applies a changed AcceptFilter.
constexpr int kDeferAcceptSeconds = 30;

core::Status SetAcceptFilter(int fd, bool data, const config::ListenConfig& lc) {
  int seconds = data ? kDeferAcceptSeconds : 0;
  if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof(seconds)) != 0) {
    int e = errno;
    return core::Status::Error("setsockopt(" + lc.text + ", TCP_DEFER_ACCEPT) failed (" +
                               std::to_string(e) + ": " + strerror(e) + ")");
  }
  return core::Status::Ok();
}

}  // namespace

namespace {

// Gives the sockets in `taken` back to `previous` (or closes those it can't).
void GiveBack(std::vector<Listener>* taken, std::vector<Listener>* previous, bool from_previous) {
  for (auto& t : *taken) {
    for (size_t i = 0; i < t.fds.size(); ++i) {
      int fd = t.fds[i];
      if (fd < 0) {
        continue;
      }
      bool returned = false;
      if (previous != nullptr && from_previous) {
        for (auto& p : *previous) {
          if (p.Key() == t.Key() && i < p.fds.size() && p.fds[i] < 0) {
            p.fds[i] = fd;
            returned = true;
            break;
          }
        }
      }
      if (!returned) {
        close(fd);
      }
    }
    t.fds.clear();
  }
}

}  // namespace

core::Result<std::vector<Listener>> OpenListeners(const config::Config& config, int slots,
                                                  std::vector<Listener>* previous) {
  std::vector<Listener> out;
  for (const auto& lc : config.server.listens) {
    Listener l;
    l.config = lc;
    l.fds.assign(static_cast<size_t>(slots), -1);
    for (int i = 0; i < slots; ++i) {
      if (previous != nullptr) {
        for (auto& p : *previous) {
          if (p.Key() == l.Key() && static_cast<size_t>(i) < p.fds.size() && p.fds[i] >= 0) {
            l.fds[i] = p.fds[i];
            p.fds[i] = -1;
            break;
          }
        }
      }
      core::Status st = core::Status::Ok();
      if (l.fds[i] < 0) {
        auto fd = BindOne(lc);
        if (fd.ok()) {
          l.fds[i] = *fd;
        } else {
          st = fd.status();
        }
      }
      if (st.ok()) {
        st = SetAcceptFilter(
            l.fds[i], lc.ssl ? config.server.accept_filter_https : config.server.accept_filter_http,
            lc);
      }
      if (!st.ok()) {
        out.push_back(std::move(l));
        GiveBack(&out, previous, true);
        return core::Status::Error(config.file + ":" + std::to_string(lc.line) + ": " +
                                   st.message());
      }
    }
    out.push_back(std::move(l));
  }
  return out;
}

void CloseListeners(std::vector<Listener>* listeners) {
  for (auto& l : *listeners) {
    for (int& fd : l.fds) {
      if (fd >= 0) {
        close(fd);
        fd = -1;
      }
    }
  }
  listeners->clear();
}

}  // namespace drover::master
