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
  if (family == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 4096) != 0) {
    int e = errno;
    close(fd);
    return core::Status::Error("bind(" + lc.text + ") failed (" + std::to_string(e) + ": " +
                               strerror(e) + ")");
  }
  return fd;
}

}  // namespace

core::Result<std::vector<Listener>> OpenListeners(const config::Config& config,
                                                  std::vector<Listener>* previous) {
  std::vector<Listener> out;
  for (const auto& lc : config.server.listens) {
    Listener l;
    l.config = lc;
    bool reused = false;
    if (previous != nullptr) {
      for (auto& p : *previous) {
        if (p.fd >= 0 && p.Key() == l.Key()) {
          l.fd = p.fd;
          p.fd = -1;
          reused = true;
          break;
        }
      }
    }
    if (!reused) {
      auto fd = BindOne(lc);
      if (!fd.ok()) {
        // Give sockets taken from `previous` back so the caller can keep serving.
        for (auto& o : out) {
          bool returned = false;
          if (previous != nullptr) {
            for (auto& p : *previous) {
              if (p.fd < 0 && p.Key() == o.Key()) {
                p.fd = o.fd;
                returned = true;
                break;
              }
            }
          }
          if (!returned) {
            close(o.fd);
          }
        }
        return core::Status::Error(config.file + ":" + std::to_string(lc.line) + ": " +
                                   fd.status().message());
      }
      l.fd = *fd;
    }
    out.push_back(l);
  }
  return out;
}

void CloseListeners(std::vector<Listener>* listeners) {
  for (auto& l : *listeners) {
    if (l.fd >= 0) {
      close(l.fd);
      l.fd = -1;
    }
  }
  listeners->clear();
}

}  // namespace drover::master
