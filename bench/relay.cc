// drover-relay: the kernel's floor for an epoll proxy, as a reference point for
// bench/compare.py (`--proxies ...,relay`). It does the system calls a proxy cannot avoid
// and nothing else: each accepted client connection gets its own connection to a backend
// (taken in turn), and bytes are copied both ways, one recv() and one send() per read, with
// no HTTP parsing, no pool, no timers, no logging. Its CPU time per request is what the
// kernel charges a proxy for two reads, two writes and the epoll calls around them on this
// machine: a proxy that parses and routes cannot go below it.
//
// It is not a proxy: it forwards requests unchanged (the backend sees the client's
// Connection header, so Connection: close requests cost it a backend connection each) and
// it pairs connections instead of balancing requests. compare.py runs it only in the
// keep-alive scenarios, where every request crosses the same four sockets as in a proxy
// with a warm upstream pool.
//
// Usage: drover-relay PORT BACKEND_PORT... [-w WORKERS]
//   Listens on 127.0.0.1:PORT (one SO_REUSEPORT socket per worker process, as drover does)
//   and connects to 127.0.0.1:BACKEND_PORT. Runs in the foreground until SIGTERM/SIGINT.
// One file, libc only (no libdrover, no libevent), like bench/openloop.cc.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr size_t kBufSize = 64 * 1024;  // drover's largest read

// One side of a pair. `buf` holds bytes read from `fd` that `peer` has not taken yet;
// while it does, `fd` is not read (back-pressure) and `peer` waits for EPOLLOUT.
struct Side {
  int fd = -1;
  Side* peer = nullptr;
  size_t off = 0;
  size_t len = 0;
  bool out_armed = false;  // EPOLLOUT on this fd
  char buf[kBufSize];
};

int g_epoll = -1;
int g_listen = -1;
std::vector<Side*> g_dead;  // closed in this batch of events, freed after it
std::vector<pid_t> g_kids;

void Die(const char* what) {
  std::fprintf(stderr, "drover-relay: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

void SetInterest(Side* s) {
  epoll_event ev{};
  ev.events = (s->len == 0 ? EPOLLIN : 0u) | (s->out_armed ? EPOLLOUT : 0u);
  ev.data.ptr = s;
  epoll_ctl(g_epoll, EPOLL_CTL_MOD, s->fd, &ev);
}

// Closing removes both fds from the epoll set; the Sides live on (fd -1) until the
// batch of events that may still name them is done.
void ClosePair(Side* s) {
  for (Side* x : {s, s->peer}) {
    close(x->fd);
    x->fd = -1;
    g_dead.push_back(x);
  }
}

// Writes what `from` holds to its peer; on an error, closes the pair.
void Flush(Side* from) {
  Side* to = from->peer;
  while (from->len > 0) {
    ssize_t w = send(to->fd, from->buf + from->off, from->len, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        ClosePair(from);
        return;
      }
      if (!to->out_armed) {  // wait for room; stop reading `from` meanwhile
        to->out_armed = true;
        SetInterest(to);
        SetInterest(from);
      }
      return;
    }
    from->off += static_cast<size_t>(w);
    from->len -= static_cast<size_t>(w);
  }
  from->off = 0;
  if (to->out_armed) {
    to->out_armed = false;
    SetInterest(to);
    SetInterest(from);
  }
}

void OnReadable(Side* s) {
  ssize_t n = recv(s->fd, s->buf, kBufSize, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    ClosePair(s);
    return;
  }
  if (n < 0) return;
  s->len = static_cast<size_t>(n);
  Flush(s);
}

int ConnectBackend(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // A blocking connect: on loopback it completes at once, and the floor is about the
  // requests that follow, not about connection setup.
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

void Add(Side* s) {
  int one = 1;
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = s;
  epoll_ctl(g_epoll, EPOLL_CTL_ADD, s->fd, &ev);
}

void OnAccept(const std::vector<int>& backends, size_t* next) {
  for (;;) {
    int c = accept4(g_listen, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;  // EAGAIN, or a transient error: the next event retries
    int b = ConnectBackend(backends[*next % backends.size()]);
    ++*next;
    if (b < 0) {
      std::fprintf(stderr, "drover-relay: connect to backend: %s\n", std::strerror(errno));
      close(c);
      continue;
    }
    Side* cs = new Side;
    Side* bs = new Side;
    cs->fd = c;
    bs->fd = b;
    cs->peer = bs;
    bs->peer = cs;
    Add(cs);
    Add(bs);
  }
}

int Listen(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) Die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) Die("bind");
  if (listen(fd, 4096) != 0) Die("listen");
  int zero = 0;  // as drover's listeners: the first ACK rides on the response
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero));
  return fd;
}

[[noreturn]] void Worker(int port, const std::vector<int>& backends) {
  g_listen = Listen(port);
  g_epoll = epoll_create1(EPOLL_CLOEXEC);
  if (g_epoll < 0) Die("epoll_create1");
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;
  epoll_ctl(g_epoll, EPOLL_CTL_ADD, g_listen, &lev);
  size_t next = static_cast<size_t>(getpid());  // workers start on different backends
  epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(g_epoll, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Die("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      Side* s = static_cast<Side*>(evs[i].data.ptr);
      if (s == nullptr) {
        OnAccept(backends, &next);
        continue;
      }
      uint32_t e = evs[i].events;
      if (s->fd >= 0 && (e & EPOLLOUT) != 0) Flush(s->peer);
      if (s->fd < 0) continue;
      if (s->len == 0 && (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
        OnReadable(s);
      } else if (s->len != 0 && (e & (EPOLLHUP | EPOLLERR)) != 0) {
        ClosePair(s);  // gone while its bytes wait for the peer
      }
    }
    for (Side* x : g_dead) delete x;
    g_dead.clear();
  }
}

}  // namespace

int main(int argc, char** argv) {
  int workers = 1;
  std::vector<int> ports;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-w" && i + 1 < argc) {
      workers = std::atoi(argv[++i]);
    } else if (!a.empty() && a.find_first_not_of("0123456789") == std::string::npos) {
      ports.push_back(std::atoi(a.c_str()));
    } else {
      std::fprintf(stderr, "usage: drover-relay PORT BACKEND_PORT... [-w WORKERS]\n");
      return 2;
    }
  }
  if (ports.size() < 2 || workers < 1) {
    std::fprintf(stderr, "usage: drover-relay PORT BACKEND_PORT... [-w WORKERS]\n");
    return 2;
  }
  std::vector<int> backends(ports.begin() + 1, ports.end());
  signal(SIGPIPE, SIG_IGN);
  for (int w = 0; w < workers; ++w) {
    pid_t pid = fork();
    if (pid < 0) Die("fork");
    if (pid == 0) Worker(ports[0], backends);
    g_kids.push_back(pid);
  }
  // The parent waits; SIGTERM or SIGINT to it goes on to the workers.
  auto forward = [](int sig) {
    for (pid_t k : g_kids) kill(k, sig);
  };
  signal(SIGTERM, forward);
  signal(SIGINT, forward);
  while (wait(nullptr) > 0 || errno == EINTR) {
  }
  return 0;
}
