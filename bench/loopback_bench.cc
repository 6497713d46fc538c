// The kernel's floor under every proxy's small request, for reading compare.py's
// CPU per request: one 100-byte write() and the read() of it on a loopback TCP
// connection (TCP_NODELAY), in one thread, so the sender's and the receiver's
// kernel work are both counted. A proxied keep-alive request makes two such pairs
// (client -> proxy -> member and back) plus the event loop's share. Also the same
// with writev()/readv() (what drover uses) and with epoll registration churn
// (EPOLL_CTL_ADD + EPOLL_CTL_DEL, what a connection that is watched costs).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

namespace {

struct Pair {
  int a = -1;  // connected client side
  int b = -1;  // accepted server side
  Pair() {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (l < 0 || bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
        getsockname(l, reinterpret_cast<sockaddr*>(&sa), &len) != 0 || listen(l, 1) != 0) {
      if (l >= 0) {
        close(l);
      }
      return;
    }
    a = socket(AF_INET, SOCK_STREAM, 0);
    if (a >= 0 && connect(a, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
      b = accept(l, nullptr, nullptr);
    }
    close(l);
    int one = 1;
    setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~Pair() {
    if (a >= 0) {
      close(a);
    }
    if (b >= 0) {
      close(b);
    }
  }
  bool ok() const { return a >= 0 && b >= 0; }
};

void BM_LoopbackWriteRead(benchmark::State& state) {
  Pair p;
  if (!p.ok()) {
    state.SkipWithError("no loopback TCP connection");
    return;
  }
  char buf[1024];
  memset(buf, 'x', sizeof(buf));
  bool vectored = state.range(0) != 0;
  for (auto _ : state) {
    if (vectored) {
      iovec w = {buf, 100};
      iovec r = {buf, 960};
      benchmark::DoNotOptimize(writev(p.a, &w, 1));
      benchmark::DoNotOptimize(readv(p.b, &r, 1));
    } else {
      benchmark::DoNotOptimize(write(p.a, buf, 100));
      benchmark::DoNotOptimize(read(p.b, buf, 960));
    }
  }
  state.SetLabel(vectored ? "writev+readv" : "write+read");
}
BENCHMARK(BM_LoopbackWriteRead)->Arg(0)->Arg(1);

void BM_EpollAddDel(benchmark::State& state) {
  Pair p;
  int ep = epoll_create1(0);
  if (!p.ok() || ep < 0) {
    state.SkipWithError("no loopback TCP connection or epoll");
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  for (auto _ : state) {
    epoll_ctl(ep, EPOLL_CTL_ADD, p.b, &ev);
    epoll_ctl(ep, EPOLL_CTL_DEL, p.b, &ev);
  }
  close(ep);
}
BENCHMARK(BM_EpollAddDel);

}  // namespace
