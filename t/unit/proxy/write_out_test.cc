// proxy::Server::WriteOut, the direct write of DirectIo (src/proxy/server.cc): what it
// writes is drained, what it can't stays queued in order, and a last write with
// MSG_MORE followed by close() reaches the peer whole, then the EOF.
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "proxy/server.h"

namespace drover::proxy {
namespace {

// A connected loopback TCP pair: [0] writes (non-blocking), [1] reads.
struct Pair {
  int fd[2] = {-1, -1};
  Pair(int sndbuf, int rcvbuf) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(listen(l, 1), 0);
    EXPECT_EQ(getsockname(l, reinterpret_cast<sockaddr*>(&a), &len), 0);
    fd[1] = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) {
      setsockopt(fd[1], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    EXPECT_EQ(connect(fd[1], reinterpret_cast<sockaddr*>(&a), len), 0);
    fd[0] = accept(l, nullptr, nullptr);
    close(l);
    if (sndbuf > 0) {
      setsockopt(fd[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    }
    fcntl(fd[0], F_SETFL, fcntl(fd[0], F_GETFL) | O_NONBLOCK);
  }
  ~Pair() {
    for (int f : fd) {
      if (f >= 0) {
        close(f);
      }
    }
  }
};

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  }
  return s;
}

// Reads fd until EOF (5 s at most); the bytes read.
std::string ReadToEof(int fd) {
  std::string got;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) {
      ADD_FAILURE() << "no EOF within 5 s after " << got.size() << " bytes";
      return got;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
      return got;
    }
    got.append(buf, static_cast<size_t>(n));
  }
}

TEST(WriteOutTest, SmallLastWriteWithMoreThenCloseArrivesWithTheEof) {
  Pair p(0, 0);
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, "HTTP/1.1 200 OK\r\n\r\n", 19);
  evbuffer_add(out, "body", 4);
  EXPECT_EQ(Server::WriteOut(out, p.fd[0], MSG_MORE), 23);
  EXPECT_EQ(evbuffer_get_length(out), 0u);
  close(p.fd[0]);
  p.fd[0] = -1;
  EXPECT_EQ(ReadToEof(p.fd[1]), "HTTP/1.1 200 OK\r\n\r\nbody");
  evbuffer_free(out);
}

TEST(WriteOutTest, PartialWriteLeavesTheRestQueuedInOrder) {
  // Small buffers on both sides: 3 MiB in 48 chains can't go in one call.
  Pair p(16384, 16384);
  const std::string want = Pattern(3 << 20);
  evbuffer* out = evbuffer_new();
  for (size_t off = 0; off < want.size(); off += 65536) {
    evbuffer_add(out, want.data() + off, std::min<size_t>(65536, want.size() - off));
  }
  int n = Server::WriteOut(out, p.fd[0], MSG_MORE);
  ASSERT_GT(n, 0);
  EXPECT_LT(static_cast<size_t>(n), want.size());
  EXPECT_EQ(evbuffer_get_length(out), want.size() - static_cast<size_t>(n));
  // The rest goes out without MSG_MORE, as libevent's own write would send it,
  // while the peer reads.
  std::string got;
  char buf[65536];
  while (evbuffer_get_length(out) > 0) {
    int m = Server::WriteOut(out, p.fd[0], 0);
    if (m < 0) {
      ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << strerror(errno);
    }
    pollfd pr{p.fd[1], POLLIN, 0};
    ASSERT_EQ(poll(&pr, 1, 5000), 1);
    ssize_t r = read(p.fd[1], buf, sizeof(buf));
    ASSERT_GT(r, 0);
    got.append(buf, static_cast<size_t>(r));
  }
  close(p.fd[0]);
  p.fd[0] = -1;
  got += ReadToEof(p.fd[1]);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want);
  evbuffer_free(out);
}

TEST(WriteOutTest, ErrorLeavesTheBufferAlone) {
  Pair p(0, 0);
  close(p.fd[1]);
  p.fd[1] = -1;
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, "x", 1);
  // The peer is gone: the first send may still succeed (the RST comes back with
  // it); one of the next fails with EPIPE or ECONNRESET, without SIGPIPE.
  int n = 0;
  size_t before = 0;
  for (int i = 0; i < 50 && n >= 0; ++i) {
    evbuffer_add(out, "y", 1);
    before = evbuffer_get_length(out);
    n = Server::WriteOut(out, p.fd[0], 0);
    usleep(1000);
  }
  ASSERT_LT(n, 0);
  EXPECT_TRUE(errno == EPIPE || errno == ECONNRESET) << strerror(errno);
  EXPECT_EQ(evbuffer_get_length(out), before);
  evbuffer_free(out);
}

}  // namespace
}  // namespace drover::proxy
