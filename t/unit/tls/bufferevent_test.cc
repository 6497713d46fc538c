// tls/bufferevent.h on a real libevent loop over a socketpair: a full exchange between
// a server and a client bufferevent, a verification failure reported by TlsError(), a
// plain-HTTP client on the TLS side (an error, no crash), and a peer that closes without
// close_notify (an EOF, not an error).
#include "tls/bufferevent.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "test_pki.h"

namespace drover::tls {
namespace {

using testing::LoadConfig;
using testing::Pki;

std::string P(const std::string& name) { return Pki::Get().Path(name); }

// What one side saw.
struct Side {
  bufferevent* bev = nullptr;
  bool connected = false;
  bool eof = false;
  bool error = false;
  std::string error_text;
  std::string data;
  std::string reply;  // written once `data` holds `expect`
  std::string expect;
};

class TlsBuffereventTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = event_base_new();
    ASSERT_NE(base_, nullptr);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
    auto keys = TicketKeys::Create();
    ASSERT_TRUE(keys.ok());
    keys_ = std::move(*keys);
  }
  void TearDown() override {
    for (Side* s : {&server_, &client_}) {
      if (s->bev != nullptr) {
        bufferevent_free(s->bev);
      }
    }
    for (int fd : fds_) {
      if (fd >= 0) {
        close(fd);
      }
    }
    event_base_free(base_);
  }

  void Build(const std::string& client_lines) {
    config_ = LoadConfig(
        "[server]\nListen = 127.0.0.1:8443 ssl\nSSLCertificateFile = " + P("default.pem") +
        "\nSSLCertificateKeyFile = " + P("default.key") + "\n" + client_lines);
    ASSERT_NE(config_, nullptr);
    auto sc = ServerContext::Create(*config_, keys_.get());
    ASSERT_TRUE(sc.ok()) << sc.status().message();
    sctx_ = std::move(*sc);
    auto cc = ClientContext::Create(*config_);
    ASSERT_TRUE(cc.ok()) << cc.status().message();
    cctx_ = std::move(*cc);
  }

  static void ReadCb(bufferevent* bev, void* arg) noexcept {
    auto* s = static_cast<Side*>(arg);
    evbuffer* in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    std::string chunk(n, '\0');
    evbuffer_remove(in, chunk.data(), n);
    s->data += chunk;
    if (!s->expect.empty() && s->data == s->expect && !s->reply.empty()) {
      bufferevent_write(bev, s->reply.data(), s->reply.size());
    }
  }
  static void EventCb(bufferevent* bev, short events, void* arg) noexcept {
    auto* s = static_cast<Side*>(arg);
    if ((events & BEV_EVENT_CONNECTED) != 0) {
      s->connected = true;
    }
    if ((events & BEV_EVENT_EOF) != 0) {
      s->eof = true;
    }
    if ((events & BEV_EVENT_ERROR) != 0) {
      s->error = true;
      s->error_text = TlsError(bev);
    }
  }
  void Watch(Side* s) {
    bufferevent_setcb(s->bev, ReadCb, nullptr, EventCb, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
  }

  // Runs the loop until `done` or 5 s.
  template <typename F>
  bool RunUntil(F done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      timeval tv = {0, 10000};
      event_base_loopexit(base_, &tv);
      event_base_dispatch(base_);
    }
    return done();
  }

  event_base* base_ = nullptr;
  int fds_[2] = {-1, -1};
  std::unique_ptr<TicketKeys> keys_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<ServerContext> sctx_;
  std::unique_ptr<ClientContext> cctx_;
  Side server_;
  Side client_;
};

TEST_F(TlsBuffereventTest, ExchangeBothWays) {
  Build("SSLProxyCACertificateFile = " + P("ca.pem") + "\n");
  server_.bev = NewServerBufferevent(base_, fds_[0], *sctx_);
  fds_[0] = -1;  // owned by the bufferevent
  ASSERT_NE(server_.bev, nullptr);
  client_.bev = NewClientBufferevent(base_, fds_[1], *cctx_, "localhost", "k");
  fds_[1] = -1;
  ASSERT_NE(client_.bev, nullptr);
  server_.expect = "GET / HTTP/1.1\r\n\r\n";
  server_.reply = "HTTP/1.1 204 No Content\r\n\r\n";
  Watch(&server_);
  Watch(&client_);
  bufferevent_write(client_.bev, server_.expect.data(), server_.expect.size());
  ASSERT_TRUE(RunUntil([&] { return client_.data == server_.reply || client_.error; }))
      << client_.error_text << " / " << server_.error_text;
  EXPECT_TRUE(server_.connected);
  EXPECT_TRUE(client_.connected);
  EXPECT_FALSE(server_.error);
  EXPECT_FALSE(client_.error) << client_.error_text;
  EXPECT_NE(GetSsl(client_.bev), nullptr);
  EXPECT_STREQ(SSL_get_version(GetSsl(client_.bev)), "TLSv1.3");
  EXPECT_EQ(GetSsl(nullptr), nullptr);
}

TEST_F(TlsBuffereventTest, VerificationFailureHasAReason) {
  Build("SSLProxyCACertificateFile = " + P("other-ca.pem") + "\n");
  server_.bev = NewServerBufferevent(base_, fds_[0], *sctx_);
  fds_[0] = -1;
  client_.bev = NewClientBufferevent(base_, fds_[1], *cctx_, "localhost");
  fds_[1] = -1;
  ASSERT_NE(server_.bev, nullptr);
  ASSERT_NE(client_.bev, nullptr);
  Watch(&server_);
  Watch(&client_);
  ASSERT_TRUE(RunUntil([&] { return client_.error; }));
  EXPECT_FALSE(client_.connected);
  EXPECT_EQ(client_.error_text,
            "certificate verify failed: unable to get local issuer certificate");
  ASSERT_TRUE(RunUntil([&] { return server_.error || server_.eof; }));
  EXPECT_FALSE(server_.connected);
}

TEST_F(TlsBuffereventTest, PlainHttpOnTheTlsSideIsAnError) {
  Build("");
  server_.bev = NewServerBufferevent(base_, fds_[0], *sctx_);
  fds_[0] = -1;
  ASSERT_NE(server_.bev, nullptr);
  Watch(&server_);
  const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fds_[1], req, sizeof(req) - 1), static_cast<ssize_t>(sizeof(req) - 1));
  ASSERT_TRUE(RunUntil([&] { return server_.error || server_.eof; }));
  EXPECT_TRUE(server_.error);
  EXPECT_FALSE(server_.connected);
  EXPECT_NE(server_.error_text.find("http request"), std::string::npos) << server_.error_text;
}

TEST_F(TlsBuffereventTest, CloseWithoutCloseNotifyIsEof) {
  Build("SSLProxyCACertificateFile = " + P("ca.pem") + "\n");
  server_.bev = NewServerBufferevent(base_, fds_[0], *sctx_);
  fds_[0] = -1;
  // The client side is a plain SSL driven by hand over its socket, closed abruptly.
  SslPtr ssl = cctx_->NewSsl("localhost");
  ASSERT_NE(ssl, nullptr);
  SSL_set_fd(ssl.get(), fds_[1]);
  Watch(&server_);
  ASSERT_TRUE(RunUntil([&] {
    int rc = SSL_do_handshake(ssl.get());
    return rc == 1 && server_.connected;
  }));
  SSL_write(ssl.get(), "hi", 2);
  ASSERT_TRUE(RunUntil([&] { return server_.data == "hi"; }));
  close(fds_[1]);
  fds_[1] = -1;
  ASSERT_TRUE(RunUntil([&] { return server_.eof || server_.error; }));
  EXPECT_TRUE(server_.eof);
  EXPECT_FALSE(server_.error) << server_.error_text;
}

}  // namespace
}  // namespace drover::tls
