// The proxy inside one worker process: client connections, the exchange with
// a member, and the per-worker pool of keep-alive member connections. Data
// flows one way: ClientConn parses a request -> router -> balancer pick ->
// UpstreamConn -> the response streams back through the same ClientConn.
// Everything here runs on the worker's single event loop thread.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "balancer/balancer.h"
#include "config/config.h"
#include "core/small_alloc.h"
#include "http/parser.h"
#include "http/rewrite.h"
#include "proxy/access_log.h"
#include "proxy/router.h"
#include "shm/slot_table.h"
#include "status/status.h"

namespace drover::tls {
class ServerContext;
class ClientContext;
}  // namespace drover::tls

namespace drover::proxy {

class Server;
class ClientConn;
class AjpExchange;

// Where to connect for one member (resolved once per worker).
struct MemberAddr {
  sockaddr_storage addr{};
  socklen_t len = 0;
  bool resolved = false;
  std::string host_header;    // "host[:port]" for Host when ProxyPreserveHost is off
  std::string url;            // the member URL (for logs)
  std::string path;           // the member URL's path prefix
  int64_t timeout_ms = 0;
  int64_t connect_timeout_ms = 0;
  bool disablereuse = false;
  int max = 0;                // member key max=: connections per worker, 0 = no limit
  int conns = 0;              // open connections to the member from this worker
  bool tls = false;           // https:// member: TLS to it (tls/bufferevent.h)
  std::string tls_host;       // its host for SNI and the peer name check (IPv6 unbracketed)
  config::Scheme scheme = config::Scheme::kHttp;
  // ajp:// members (proxy/ajp_exchange.cc).
  std::string secret;         // secret=
  int64_t ping_ms = 0;        // ping=: CPING before each request; 0 = off
  size_t ajp_packet = 8192;   // iobuffersize= as an AJP packet size
};

// Direct socket I/O for plain (not TLS) bufferevents, around two costs of
// libevent 2.1's bufferevent_socket.
//
// Writes: sends the output with one writev() from the event loop, right
// after the callback that queued it, instead of through bufferevent's write
// event: bufferevent_socket adds the write event on every append and deletes
// it once the buffer drains (two epoll_ctl() and one extra loop pass per
// response and per request). An evbuffer callback on the output queues the
// writer; Server::FlushWriters() writes; only what the kernel does not take
// (EAGAIN) or an error goes back to libevent's write event, which this code
// turns off again once the buffer is empty. The bufferevent's write callback
// runs whenever the output drains, as libevent would run it.
//
// Write-through: a keep-alive response whose body has arrived whole, and a
// request without a body, are sent straight from where they are (the head's
// string, the member's input chains) with one send()/sendmsg() when nothing is
// queued (Server::WritesThrough); only what the kernel does not take goes into
// the output as above. The output's add, its two evbuffer callbacks, the queue
// and the drain are skipped, about a tenth of drover's instructions per
// keep-alive request. The write callback is not run for it: with nothing queued
// before and nothing left after, there is nothing for it to do.
//
// Reads: bufferevent_socket's read callback calls evbuffer_read(), which asks
// FIONREAD first (one ioctl per read) and reads at most 4 KiB, so a 64 KiB body
// cost 16 read events and 32 syscalls. In direct mode the bufferevent's read
// event runs drover's callback instead (server.cc, DirectReadCb): one readv()
// into a 1 KiB chain and, when that fills, one more readv() of up to 64 KiB
// within the read high-water mark; no ioctl. Everything else about the read
// event stays libevent's: bufferevent_enable/disable, the read timeout, the
// high-water suspension, EOF and errors to the event callback.
//
// Splicing (member connections only): an owner that moves a large body with splice(2)
// (ClientConn::PumpSplice) sets splice_read: the read event then only runs the read
// callback, which reads the socket itself. While a response head is awaited,
// head_first makes a read event that filled its first read run the callback before
// the big read, so that the owner can choose to splice the rest of the body; the
// big read follows when the owner has cleared head_first and is not splicing.
//
// Not for TLS bufferevents: OpenSSL owns their socket I/O.
struct DirectIo {
  Server* server = nullptr;
  bufferevent* bev = nullptr;  // null: not in direct mode
  evutil_socket_t fd = -1;     // bev's socket
  bool queued = false;         // in Server::flush_
  bool splice_read = false;
  bool head_first = false;
  // The connection closes once this output is written: write it with MSG_MORE, so
  // the kernel holds the last segment and close() sends it with the FIN in one packet
  // (and the client answers both with one ACK) instead of data, FIN and two ACKs.
  bool last_write = false;
  // The output's length, kept by Server::OutputCb on every add and drain, so that
  // WritesThrough() decides without touching the evbuffer (a cache miss per call
  // once 64 connections' state has cycled through the cache).
  size_t out_len = 0;
};

// bufferevent_get_enabled() without its lock: the lock field is a cache line of its
// own in libevent's bufferevent, and drover runs its bufferevents without locks.
inline short Enabled(const bufferevent* bev) { return bev->enabled; }

// A pipe for splice(2): [0] reads, [1] writes. Both non-blocking.
struct Pipe {
  int fd[2] = {-1, -1};
  bool open() const { return fd[0] >= 0; }
};

// bufferevent_set_timeouts() and bufferevent_enable() re-add their events (a
// timer-heap update each) even when nothing changes; the proxy sets them on
// every request, so it remembers what it last set. Milliseconds, 0 = none.
struct BevTimeouts {
  int64_t read_ms = -1;
  int64_t write_ms = -1;
};
void SetBevTimeouts(bufferevent* bev, BevTimeouts* cache, int64_t read_ms, int64_t write_ms);
void EnableRead(bufferevent* bev);

// What a closed client connection leaves to the next one: the capacity of its
// per-exchange strings and lists. Without it every new connection (one per request
// under Connection: close) grows them from empty again, about a dozen heap
// allocations. ClientConn swaps a spare set in when it is made and its own out when
// it goes (ClientConn::SwapBuffers); Server keeps at most kSpareBuffers sets.
struct ConnBuffers {
  std::string head;       // ClientConn::head_buf_
  std::string up_head;    // up_head_
  std::string resp_head;  // resp_head_buf_
  std::vector<http::Header> req_headers;
  std::vector<http::Header> resp_headers;
  std::vector<http::Header> out_headers;
  std::vector<std::string_view> req_tokens;
  std::vector<std::string_view> resp_tokens;

  bool Oversized() const;  // something grew past what is worth keeping
  void Clear();            // empties everything, keeping the capacity
};

// A connection to a member. Owned by the Server; lent to one ClientConn at a
// time, or idle in the pool.
class UpstreamConn {
 public:
  // Counts itself in the member's MemberAddr::conns while it lives.
  UpstreamConn(Server* server, uint32_t balancer, uint32_t member);
  ~UpstreamConn();

  Server* server_;
  bufferevent* bev_ = nullptr;
  uint32_t balancer_;
  uint32_t member_;
  // The member's scheme when connected: part of the pool key, so that a slot
  // whose member changed (balancer-manager) never lends a connection that speaks
  // another protocol.
  config::Scheme scheme_ = config::Scheme::kHttp;
  ClientConn* owner_ = nullptr;
  bool connected_ = false;
  bool reused_ = false;
  uint64_t requests_ = 0;
  bool dead_ = false;
  // A TLS connection (https:// member): bev_ is a bufferevent_openssl, so nothing may
  // read or write its fd directly (no DirectIo). tls_host_ is the name it was opened for
  // (SNI and the peer name check); a pooled connection is reused only for the same scheme
  // and name.
  bool tls_ = false;
  std::string tls_host_;
  DirectIo out_;
  BevTimeouts timeouts_;
  bool watermarks_set_ = false;  // the busy-connection watermarks (they stay when idle)
  int64_t idle_since_ms_ = 0;    // CoarseMonotonicMs() when it went into the pool

  static void ReadCb(bufferevent* bev, void* arg) noexcept;
  static void WriteCb(bufferevent* bev, void* arg) noexcept;
  static void EventCb(bufferevent* bev, short events, void* arg) noexcept;
};

class ClientConn {
 public:
  ClientConn(Server* server, int fd, const sockaddr* peer, int peer_len, uint16_t local_port,
             bool tls);
  ~ClientConn();
  // One per connection: from the small-block cache (core/small_alloc.h).
  static void* operator new(size_t n) {
    if (void* p = core::SmallAlloc(n)) {
      return p;
    }
    throw std::bad_alloc();
  }
  static void operator delete(void* p) { core::SmallFree(p); }
  bool Start();

  // Called by UpstreamConn callbacks.
  void OnUpstreamConnected();
  void OnUpstreamRead();
  void OnUpstreamWrite();
  void OnUpstreamEvent(short events);

  // Graceful shutdown: close now when idle, else after the current response.
  void Shutdown();
  bool closing() const { return state_ == State::kClosed; }
  // An `ssl` listener's connection: bev_ is a bufferevent_openssl, so nothing may read or
  // write its fd directly (fd-level fast paths must skip it).
  bool tls() const { return tls_; }
  // Between requests on a keep-alive connection, nothing buffered.
  bool IdleKeepAlive() const;
  // Closes the connection now if IdleKeepAlive(); returns whether it did.
  bool ReclaimIfIdle();
  // A new plain connection's first read, without waiting for the poller: a
  // client usually sends its request right behind the handshake, so it is
  // often there by the time the connection is accepted.
  void FirstRead();

  ClientConn* next_ = nullptr;
  ClientConn* prev_ = nullptr;

 private:
  // The upstream protocol seam: the built-in path speaks HTTP/1.1 to http://
  // members; an ajp:// member's exchange is run by AjpExchange
  // (proxy/ajp_exchange.cc), which uses this class's client side (response
  // head, framing, errors, pool, accounting) as is.
  friend class AjpExchange;
  enum class State { kIdle, kHead, kProxying, kTunnel, kLinger, kClosed };
  enum class RespState { kNone, kHead, kBody, kDone };

  static void ReadCb(bufferevent* bev, void* arg) noexcept;
  static void WriteCb(bufferevent* bev, void* arg) noexcept;
  static void EventCb(bufferevent* bev, short events, void* arg) noexcept;
  static void TimerCb(evutil_socket_t fd, short what, void* arg) noexcept;

  void OnRead();
  void OnWrite();
  void OnEvent(short events);
  void OnTimer();
  void SwapBuffers(ConnBuffers* b);

  void ProcessInput();
  void StartExchange();
  void ResetExchange();
  // `now_us`: WallUs() when the caller just read it (0: read it here).
  bool PickAndConnect(int64_t now_us = 0);
  bool ConnectTo(int member);
  void BuildUpstreamHead();
  void PumpRequestBody();
  void PumpResponseBody();
  bool HandleResponseHead();
  void SendResponseHead();
  size_t SendResponseThrough(const std::string& h);
  void FinishResponse();
  void FinishExchange();
  void ReleaseUpstream(bool reusable);
  void UpstreamFailed(int status, const char* cause);
  // Nothing was sent to member_ (connect failure, failed CPING): mark it in
  // error and pick another member, within maxattempts; else 503.
  void FailOver();
  void SendLocal(int status, const char* reason, bool close, const char* detail = nullptr);
  void WriteAccessLog();
  void CloseAfterFlush();
  bool ClosesAtOnce();
  bool UnreadBytes();
  void StartTunnel();
  void StartStatus(int kind);
  void PumpLocalBody();
  void RunStatus();
  void PumpTunnel(bool from_client);
  void EndTunnel(const char* why);
  void StartLinger();
  void Close();
  void ArmTimer(int64_t ms);
  void DisarmTimer() { timer_deadline_ms_ = 0; }
  void EnsureNoDelay();
  void MoveToClient(evbuffer* in, evbuffer* out, size_t n);
  // Splicing a large Content-Length body from a plain member connection to a plain
  // client (client.cc, "Splicing").
  bool MaybeStartSplice();
  void PumpSplice();
  void EndSplice();
  void ResumeClientBody();
  int64_t BodyDeadlineMs() const;
  void ArmBodyTimer();
  bool CheckBodyDeadline();
  void BoundInput();
  void SetReadHigh(size_t high);
  void SetIdleTimeouts();

  Server* server_;
  bufferevent* bev_ = nullptr;
  DirectIo out_;
  BevTimeouts timeouts_;
  size_t read_high_ = 0;  // the client read high-water mark now set (0 = none)
  event* timer_ = nullptr;
  // The connection timer is lazy: ArmTimer() only moves timer_deadline_ms_
  // when the armed event fires no later; TimerCb re-arms for the rest.
  int64_t timer_deadline_ms_ = 0;  // CLOCK_MONOTONIC ms; 0 = disarmed
  int64_t timer_armed_ms_ = 0;     // when timer_ fires; 0 = not pending
  std::string peer_ip_;
  uint16_t peer_port_ = 0;
  uint16_t local_port_ = 0;
  bool tls_ = false;
  bool tls_established_ = false;      // the TLS handshake completed (tls_ only)
  State state_ = State::kIdle;
  bool close_after_flush_ = false;
  bool in_process_ = false;
  bool shutting_down_ = false;
  bool client_eof_ = false;
  bool client_asked_close_ = false;  // the last request said it is the last
  bool read_deferred_ = false;       // not reading the socket (FirstRead, UnreadBytes)
  bool nodelay_ = false;             // TCP_NODELAY set on the client socket
  uint64_t requests_ = 0;

  // The current exchange.
  std::string head_buf_;              // the request head bytes; req_ views point here
  http::RequestHead req_;
  Route route_;
  balancer::Balancer* balancer_ = nullptr;
  balancer::PickResult pick_;
  std::vector<int> tried_;
  int attempts_ = 0;
  int member_ = -1;
  bool member_started_ = false;       // OnRequestStart called
  UpstreamConn* up_ = nullptr;
  bool up_paused_ = false;            // upstream read paused for client backpressure
  bool client_paused_ = false;        // client read paused for upstream backpressure
  bool retried_stale_ = false;
  bool websocket_ = false;            // the request asks for a WebSocket upgrade
  int local_ = 0;                     // 1 balancer-manager, 2 metrics: answered here
  bool waiting_member_ = false;       // balancer timeout=: polling for a usable member
  int64_t body_start_ms_ = 0;         // RequestBodyTimeout runs since (0 = no body deadline)
  int64_t body_paused_ms_ = 0;        // time the client was paused for the member
  std::string up_head_;               // request head to send to the member
  std::string resp_head_buf_;         // response head bytes; resp_ views point here
  http::ResponseHead resp_;
  std::vector<http::Header> out_headers_;  // headers sent to the client (for the log)
  std::vector<std::string> rewritten_;     // storage for rewritten header values
  RespState resp_state_ = RespState::kNone;
  bool req_body_done_ = true;
  uint64_t req_remaining_ = 0;
  uint64_t req_payload_ = 0;
  uint64_t resp_remaining_ = 0;
  bool splicing_ = false;             // the body goes member socket -> pipe_ -> client socket
  bool dechunk_ = false;              // HTTP/1.0 client, chunked member response
  bool resp_close_delimited_ = false; // body to the client ends with the connection
  bool keep_alive_ = true;            // this client connection survives the exchange
  bool sent_continue_ = false;
  int status_ = 0;
  uint64_t resp_body_bytes_ = 0;
  uint64_t resp_bytes_ = 0;
  uint64_t req_bytes_ = 0;
  uint64_t up_bytes_in_ = 0;
  uint64_t up_bytes_out_ = 0;
  int64_t start_us_ = 0;
  bool exchange_active_ = false;
  std::string client_host_;           // for ProxyPassReverse
  AjpExchange* proto_ = nullptr;      // ajp_ while the exchange runs over AJP, else null

  // Out of the way: what only chunked bodies, splicing, tunnels, status pages, AJP and
  // waits for a member use. Every request touches the fields above (about 15 cache
  // lines, each a cache miss once 64 connections have cycled through the cache);
  // these stay untouched on the common path (ResetExchange leaves them alone: each is
  // set where its feature starts).
  std::string local_body_;          // its request body (at most kLocalBodyMax)
  int64_t tunnel_activity_us_ = 0;  // last byte moved through the tunnel
  int64_t wait_deadline_us_ = 0;
  int64_t paused_at_ms_ = 0;
  http::ChunkedDecoder req_chunked_;
  Pipe pipe_;
  size_t pipe_bytes_ = 0;  // in pipe_, not yet sent to the client
  http::ChunkedDecoder resp_chunked_;
  std::unique_ptr<AjpExchange> ajp_;  // kept between exchanges (its buffers)
};

class Server {
 public:
  Server(event_base* base, std::shared_ptr<const config::Config> config, shm::SlotTable* table,
         int access_log_fd, std::string status_secret);
  ~Server();
  bool Init();

  void Accept(int fd, const sockaddr* peer, int peer_len, uint16_t local_port, bool tls);
  void BeginShutdown();
  bool Drained() const { return clients_ == nullptr; }
  size_t num_clients() const { return num_clients_; }
  size_t num_upstreams() const { return num_upstreams_; }
  void CountUpstream(int delta) { num_upstreams_ += static_cast<size_t>(delta); }
  void ReopenLogs();

  // Connection bookkeeping.
  void Unlink(ClientConn* c);
  void DeferFree(ClientConn* c);
  void DeferFree(UpstreamConn* u);
  // A pooled connection to member m of balancer b opened with the same scheme (`tls`) and,
  // for TLS, the same `tls_host`; nullptr when there is none.
  UpstreamConn* TakeIdle(uint32_t b, uint32_t m, bool tls = false,
                         const std::string& tls_host = std::string());
  bool HasIdle(uint32_t b, uint32_t m) const {
    return b < idle_.size() && m < idle_[b].size() && !idle_[b][m].empty();
  }
  void PutIdle(UpstreamConn* u);
  // Spare ClientConn buffers (see ConnBuffers): TakeBuffers moves a spare set into
  // *into (false when there is none); GiveBuffers keeps *from's capacity, emptied,
  // when there is room and nothing in it grew unusually large.
  bool TakeBuffers(ConnBuffers* into);
  void GiveBuffers(ConnBuffers* from);
  // Pipes for splicing response bodies (ClientConn::PumpSplice): TakePipe gives a
  // spare one or a new one (false when pipe2() fails, e.g. out of descriptors);
  // GivePipe keeps an empty one for the next body (at most kSparePipes) and closes
  // the rest.
  bool TakePipe(Pipe* p);
  void GivePipe(Pipe* p, bool empty);
  // DirectIo (see there): puts `bev` (connected, not TLS) in direct mode;
  // takes its writes out (before the bufferevent is freed; the read event keeps
  // drover's callback, which works for any plain socket bufferevent).
  void EnableDirectIo(DirectIo* w, bufferevent* bev);
  // Runs w's read event handler now (w in direct mode).
  void ReadNow(DirectIo* w);
  // Writes what it can of `out` to the socket `fd` with one send() or sendmsg()
  // (`flags` | MSG_NOSIGNAL | MSG_DONTWAIT) and drains that; returns the call's
  // result (errno set when -1).
  static int WriteOut(evbuffer* out, int fd, int flags);
  // One send() (n == 1) or sendmsg() of `v` to `fd`, `flags` | MSG_NOSIGNAL |
  // MSG_DONTWAIT; the call's result.
  static ssize_t SendVec(int fd, iovec* v, int n, int flags);
  // Write-through (see DirectIo): true when w is in direct mode with nothing
  // queued and libevent's write event off, so bytes sent to w->fd now keep their
  // order.
  static bool WritesThrough(const DirectIo* w);
  // Shortens the extents v[0..n) to `total` bytes in all; returns how many still
  // hold bytes (the rest are left as they were).
  static int ClampIovecs(iovec* v, int n, size_t total);
  void DisableDirectIo(DirectIo* w);
  // From a bufferevent write callback: libevent drained the output; turns the
  // write event off again when nothing is left.
  static void DirectWriteDrained(DirectIo* w);
  void DropIdle(UpstreamConn* u);
  void OnClientClosed();
  // Under WorkerConnections pressure: closes idle pooled member connections and
  // idle keep-alive client connections, oldest first.
  size_t ReclaimIdle(size_t want);
  bool AtConnectionLimit() const {
    return num_clients_ + num_upstreams_ >=
           static_cast<size_t>(config_->global.worker_connections);
  }

  event_base* base() const { return base_; }
  const config::Config& config() const { return *config_; }
  const config::ServerConfig& server_config() const { return config_->server; }
  balancer::Balancer* balancer(int i) { return &balancers_[static_cast<size_t>(i)]; }
  // Member `m` of balancer `b`'s address, nullptr when there is none. Configured
  // members are a lookup (several per request); members added at run time go
  // through RuntimeMemberAddr.
  MemberAddr* member_addr(uint32_t b, uint32_t m) {
    if (b < configured_members_.size() && m < configured_members_[b]) {
      return &addrs_[b][m];
    }
    return RuntimeMemberAddr(b, m);
  }
  status::StatusContext* status() { return status_.get(); }
  const std::vector<http::ReverseMap>& reverse_maps() const { return reverse_maps_; }
  const std::vector<http::CookieMap>& cookie_domain_maps() const { return cookie_domain_; }
  const std::vector<http::CookieMap>& cookie_path_maps() const { return cookie_path_; }
  const http::Limits& limits() const { return limits_; }
  const http::Limits& response_limits() const { return response_limits_; }
  int access_log_fd() const { return access_log_fd_; }
  // The access log prints response headers: ClientConn keeps out_headers_.
  bool logs_response_headers() const { return logs_response_headers_; }
  std::string* log_buf() { return &log_buf_; }
  bool shutting_down() const { return shutting_down_; }
  // Listener pause/resume for WorkerConnections (set by the worker).
  void set_accept_control(void (*fn)(void*, bool), void* arg) {
    accept_control_ = fn;
    accept_arg_ = arg;
  }
  // TLS contexts inherited from the master (either may be nullptr).
  void set_tls(tls::ServerContext* server, tls::ClientContext* client) {
    tls_server_ = server;
    tls_client_ = client;
  }
  tls::ServerContext* tls_server() const { return tls_server_; }
  tls::ClientContext* tls_client() const { return tls_client_; }

 private:
  static void ReaperCb(evutil_socket_t, short, void* arg) noexcept;
  static void FlushCb(evutil_socket_t, short, void* arg) noexcept;
  static void OutputCb(evbuffer* buf, const evbuffer_cb_info* info, void* arg) noexcept;
  void Reap();
  void FlushWriters();
  void ResolveMembers();
  MemberAddr* RuntimeMemberAddr(uint32_t b, uint32_t m);

  event_base* base_;
  std::shared_ptr<const config::Config> config_;
  shm::SlotTable* table_;
  int access_log_fd_;
  bool logs_response_headers_;
  std::vector<balancer::Balancer> balancers_;
  std::vector<std::vector<MemberAddr>> addrs_;
  std::vector<uint32_t> configured_members_;  // per balancer: addrs_[b][0..n) resolved
  std::string status_secret_;
  std::unique_ptr<status::StatusContext> status_;
  std::vector<std::vector<std::vector<UpstreamConn*>>> idle_;
  std::vector<http::ReverseMap> reverse_maps_;
  std::vector<http::CookieMap> cookie_domain_;
  std::vector<http::CookieMap> cookie_path_;
  http::Limits limits_;
  http::Limits response_limits_;
  ClientConn* clients_ = nullptr;
  size_t num_clients_ = 0;
  size_t num_upstreams_ = 0;  // member connections, busy and idle
  std::vector<ClientConn*> dead_clients_;
  std::vector<UpstreamConn*> dead_upstreams_;
  std::vector<ClientConn*> reaping_clients_;     // Reap()'s swap partners: their capacity
  std::vector<UpstreamConn*> reaping_upstreams_;  // stays from one pass to the next
  std::vector<ConnBuffers> spare_buffers_;
  std::vector<Pipe> spare_pipes_;
  event* reaper_ = nullptr;
  std::vector<DirectIo*> flush_;  // writers with output queued this loop pass
  event* flush_ev_ = nullptr;
  bool shutting_down_ = false;
  bool accept_paused_ = false;
  std::string log_buf_;
  void (*accept_control_)(void*, bool) = nullptr;
  void* accept_arg_ = nullptr;
  tls::ServerContext* tls_server_ = nullptr;
  tls::ClientContext* tls_client_ = nullptr;
};

int64_t WallUs();

}  // namespace drover::proxy
