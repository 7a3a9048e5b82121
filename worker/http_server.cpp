// Accepts connections and finds their protocol: TLS or not (by the bind), then h2 (ALPN) or
// HTTP/1.1, whose session takes it from there (and switches it to WebSocket or h2c). Owns the
// I/O thread's loop, the signals and the stop. Beast/Asio live in the worker's translation
// units only (see ../shared/TOOLCHAIN.md on build time).

#include "worker/http_server.hpp"

#include "common/accept_backoff.hpp"
#include "common/io_thread_policy.hpp"
#include "common/logging.hpp"
#include "common/spin_before_sleep.hpp"
#include "common/wake_batch.hpp"
#include "config/tls_context.hpp"
#include "worker/connection_stream.hpp"
#include "worker/http1_session.hpp"
#include "worker/http2_session.hpp"
#include "worker/proxy_protocol.hpp"
#include "worker/server_state.hpp"
#include "worker/tls_session.hpp"
#include "worker/websocket_session.hpp"

#include <spdlog/logger.h>
#include <boost/asio.hpp>
#include <boost/beast/core/error.hpp>

#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <utility>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace hornbeam::worker {
namespace {

// A TLS connection until its handshake is done: then it is served in HTTP/2 (ALPN h2) or
// HTTP/1.1. A client that has not finished by tls.handshake_timeout (PROXY header included),
// or fails it, is dropped, and counted.
class TlsHandshake : public std::enable_shared_from_this<TlsHandshake> {
 public:
  TlsHandshake(ServerState& server, Protocol::socket socket, SSL_CTX* context)
      : server_(server),
        stream_(std::make_unique<TlsSocket>(std::move(socket), context)),
        timer_(server.io),
        retry_(server.io) {}

  void start() {
    timer_.expires_after(server_.config.tls.handshake_timeout);
    timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        self->timed_out_ = true;
        self->retry_.cancel();
        beast::error_code ignored;
        self->stream_->socket().close(ignored);  // the handshake ends with an error
      }
    });
    if (server_.proxy_protocol != ProxyProtocol::off) return read_proxy_header();
    handshake();
  }

 private:
  void handshake() {
    stream_->async_handshake([self = shared_from_this()](beast::error_code ec) { self->done(ec); });
  }

  // proxy_protocol on an `https://` bind: the PROXY header comes before the TLS handshake, in
  // the clear. It is looked at with MSG_PEEK, and only its own bytes are taken from the
  // socket, so that OpenSSL reads the ClientHello behind it from the socket itself. The rules
  // are the plain binds' (operations.md): a peer in proxy_allow_ips must send one, no other
  // peer may.
  void read_proxy_header() {
    auto& socket = stream_->socket();
    char peeked[proxy_peek_limit];
    const ssize_t got = ::recv(socket.native_handle(), peeked, sizeof peeked, MSG_PEEK);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return socket.async_wait(Protocol::socket::wait_read,
                               [self = shared_from_this()](beast::error_code ec) {
                                 if (ec || self->timed_out_) return self->done(ec);
                                 self->read_proxy_header();
                               });
    }
    if (got <= 0) return drop(got == 0 ? "closed before its PROXY header" : std::strerror(errno));
    beast::error_code ignored;
    const auto remote = endpoint_address(socket.remote_endpoint(ignored));
    const bool from_proxy = remote.first.empty() || server_.proxy_peers.contains(remote.first);
    const auto header = parse_proxy_header(std::string_view(peeked, static_cast<std::size_t>(got)),
                                           server_.proxy_protocol);
    switch (header.status) {
      case ProxyHeader::Status::more:
        if (static_cast<std::size_t>(got) == sizeof peeked)
          return drop("no end to its PROXY header");
        // The bytes stay readable (peeked, not taken): look again shortly, not at readiness.
        retry_.expires_after(std::chrono::milliseconds(10));
        return retry_.async_wait([self = shared_from_this()](beast::error_code ec) {
          if (!ec && !self->timed_out_) self->read_proxy_header();
        });
      case ProxyHeader::Status::malformed: return drop(header.why);
      case ProxyHeader::Status::absent:
        if (from_proxy) return drop("no PROXY protocol header, and the peer is in proxy_allow_ips");
        return handshake();
      case ProxyHeader::Status::complete: {
        if (!from_proxy) return drop("a PROXY protocol header from a peer not in proxy_allow_ips");
        // Peeked whole, so this takes exactly the header.
        if (::recv(socket.native_handle(), peeked, header.size, 0) !=
            static_cast<ssize_t>(header.size)) {
          return drop("its PROXY header could not be read");
        }
        if (!header.source_addr.empty()) {  // else a health check: the proxy is the client
          proxied_ = ProxiedEnds{{header.source_addr, header.source_port},
                                 {header.destination_addr, header.destination_port}};
        }
        return handshake();
      }
    }
  }

  void drop(const std::string& why) {
    timer_.cancel();
    beast::error_code ignored;
    auto& socket = stream_->socket();
    const auto [address, port] = endpoint_address(socket.remote_endpoint(ignored));
    logging::error_log().warn("closed the connection from {}:{}: {}", address, port, why);
    socket.close(ignored);
  }

  void done(beast::error_code ec) {
    timer_.cancel();
    if (ec || timed_out_) {
      shm::WorkerStats::bump(server_.stats->tls_handshake_failures);
      beast::error_code ignored;
      const auto peer = stream_->socket().remote_endpoint(ignored);
      const auto [address, port] = endpoint_address(peer);
      logging::error_log().debug(
          "dropped a TLS connection from {}:{}: {}", address, port,
          timed_out_ ? "no handshake within tls.handshake_timeout" : ec.message());
      stream_->socket().close(ignored);
      return;
    }
    auto tls = describe_tls_session(stream_->native_handle());
    if (negotiated_h2()) {
      beast::error_code ignored;
      auto& socket = stream_->socket();
      Http2Peer peer{endpoint_address(socket.remote_endpoint(ignored)),
                     endpoint_address(socket.local_endpoint(ignored)), false, std::move(tls)};
      if (proxied_) {
        peer.remote = std::move(proxied_->remote);
        peer.local = std::move(proxied_->local);
      }
      peer.trusted =
          peer.remote.first.empty() || server_.trusted_proxies.contains(peer.remote.first);
      return start_http2(server_, ConnectionStream(std::move(stream_)), std::move(peer), {});
    }
    start_http1(server_, ConnectionStream(std::move(stream_)), std::move(tls), std::move(proxied_));
  }

  bool negotiated_h2() {
    const unsigned char* protocol = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(stream_->native_handle(), &protocol, &length);
    return length == 2 && protocol[0] == 'h' && protocol[1] == '2';
  }

  // A PROXY v2 header with its TLVs fits (AWS NLB's, HAProxy's); v1's is 107 bytes at most.
  static constexpr std::size_t proxy_peek_limit = 4096;

  ServerState& server_;
  std::unique_ptr<TlsSocket> stream_;
  asio::steady_timer timer_;
  asio::steady_timer retry_;  // a PROXY header that came in pieces is looked at again
  bool timed_out_ = false;
  std::optional<ProxiedEnds> proxied_;
};

class Listener {
 public:
  Listener(ServerState& server, ListenFd listen, SSL_CTX* tls)
      : server_(server), acceptor_(server.io), tls_(listen.tls ? tls : nullptr) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    getsockname(listen.fd, reinterpret_cast<sockaddr*>(&address), &length);
    acceptor_.assign(Protocol(address.ss_family, SOCK_STREAM), listen.fd);
  }

  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, Protocol::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
        if (socket.local_endpoint().protocol().family() != AF_UNIX) {
          socket.set_option(asio::ip::tcp::no_delay(true));
        }
        shm::WorkerStats::bump(server_.stats->connections_accepted);
        if (tls_) {
          std::make_shared<TlsHandshake>(server_, std::move(socket), tls_)->start();
        } else {
          start_http1(server_, ConnectionStream(std::move(socket)));
        }
        backoff_.succeeded();
      } else if (classify_accept_failure(ec.value()) == AcceptFailure::of_this_process) {
        return wait_then_accept(ec);
      }
      if (!server_.draining) accept();
    });
  }

  void stop() {
    beast::error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
  }

 private:
  // Out of descriptors, say: see common/accept_backoff.hpp.
  void wait_then_accept(const beast::error_code& ec) {
    retry_.expires_after(backoff_.failed(ec.message()));
    retry_.async_wait([this](beast::error_code waited) {
      if (!waited && !server_.draining) accept();
    });
  }

  ServerState& server_;
  asio::basic_socket_acceptor<Protocol> acceptor_;
  asio::steady_timer retry_{server_.io};
  AcceptBackoff backoff_{"connections"};
  SSL_CTX* tls_;  // the https:// binds' context; null for a plain bind
};

// The context of the https:// binds, when there are any.
config::TlsContext tls_context_for(const config::Config& config,
                                   const std::vector<ListenFd>& listen_fds) {
  if (std::none_of(listen_fds.begin(), listen_fds.end(), [](const ListenFd& l) { return l.tls; }))
    return nullptr;
  return config::make_tls_context(config.tls, config.http2.enabled);
}

}  // namespace

struct HttpServer::Impl {
  Impl(const config::Config& config, const std::vector<ListenFd>& listen_fds)
      : state(io, config), tls(tls_context_for(config, listen_fds)) {
    for (const auto& listen : listen_fds)
      listeners.push_back(std::make_unique<Listener>(state, listen, tls.get()));
  }
  ~Impl() {
    // Let the aborted operations run so that every session dies while `state` still exists.
    cut_all();
    listeners.clear();
    io.restart();
    io.poll();
  }
  std::vector<ServedConnection*> connections() const {
    return {state.connections.begin(), state.connections.end()};
  }
  void cut_all() {
    for (auto* connection : connections()) connection->cut();
    for (auto* websocket : websockets()) websocket->cut();
  }
  std::vector<WebSocketSession*> websockets() const {
    return {state.websockets.begin(), state.websockets.end()};
  }
  void stop_accepting() {
    for (auto& listener : listeners) listener->stop();
    state.draining = true;
  }

  // SIGTERM or max_requests: stop accepting, finish in-flight requests within graceful_timeout.
  void drain(const char* why) {
    if (state.draining) return;
    stop_accepting();
    if (events && events->on_drain) events->on_drain();
    logging::error_log().info(
        "{}: finishing in-flight requests (up to {}s)", why,
        std::chrono::duration_cast<std::chrono::seconds>(state.config.graceful_timeout).count());
    for (auto* connection : connections()) connection->drain();
    for (auto* websocket : websockets()) websocket->going_away();
    grace.expires_after(state.config.graceful_timeout);
    grace.async_wait([this](beast::error_code ec) {
      if (!ec) io.stop();
    });
  }

  // SIGABRT from the arbiter: the app is stuck. Say where, answer 504s, go within a second.
  void time_out() {
    stop_accepting();
    stop_reason = StopReason::stuck;
    if (events && events->on_stuck) events->on_stuck();
    for (auto* connection : connections()) connection->time_out();
    for (auto* websocket : websockets()) websocket->cut();
    grace.expires_after(std::chrono::seconds(1));
    grace.async_wait([this](beast::error_code ec) {
      if (!ec) io.stop();
    });
  }

  void wait_for_signal() {
    signals.async_wait([this](beast::error_code ec, int signal) {
      if (ec) return;
      switch (signal) {
        case SIGTERM: drain("SIGTERM"); break;
        case SIGUSR1:
          logging::reopen_files();
          logging::error_log().info("SIGUSR1: log files reopened");
          break;
        case SIGABRT: time_out(); break;
        case SIGHUP:
        case SIGUSR2:
        case SIGTTIN:
        case SIGTTOU:
          logging::error_log().info(
              "SIG{}: ignored (a worker takes no action on the arbiter's signals)",
              sigabbrev_np(signal));
          break;
        default:
          logging::error_log().info("{}: stopping now", signal == SIGINT ? "SIGINT" : "SIGQUIT");
          stop_reason = StopReason::fast;
          io.stop();
          return;
      }
      wait_for_signal();
    });
  }

  asio::io_context io{1};
  ServerState state;
  config::TlsContext tls;
  std::vector<std::unique_ptr<Listener>> listeners;
  asio::steady_timer grace{io};
  StopReason stop_reason = StopReason::graceful;
  const ServerEvents* events = nullptr;  // while run() runs
  // Registered at construction, before the worker says it is ready: a signal that arrives
  // between "ready" and run() is queued by Asio instead of killing the process.
  asio::signal_set signals{io};
};

namespace {

// Asio puts a signal's default action back when the last set that holds it goes, and the
// default action of SIGTERM is to die: a second SIGTERM while the worker stops (after the
// server, while Python finalizes) would turn a clean exit into a kill. This set holds the
// server's signals from the first server on to the process's exit: never run (what it
// catches is dropped) and never destroyed, on purpose. Signal masks could not do this
// without the app's child processes inheriting them blocked.
void keep_server_signals_caught_until_exit() {
  static asio::signal_set* const keeper = [] {
    auto* set = new asio::signal_set(*new asio::io_context(1));
    for (const int signal : kServerSignals) set->add(signal);
    for (const int signal : kArbiterSignals) set->add(signal);
    return set;
  }();
  (void)keeper;
}

}  // namespace

HttpServer::HttpServer(const config::Config& config, const std::vector<ListenFd>& listen_fds)
    : impl_(std::make_unique<Impl>(config, listen_fds)) {
  for (const int signal : kServerSignals) impl_->signals.add(signal);
  for (const int signal : kArbiterSignals) impl_->signals.add(signal);
  keep_server_signals_caught_until_exit();
}

HttpServer::~HttpServer() = default;

void HttpServer::request_graceful_stop(const char* why) {
  asio::post(impl_->io, [impl = impl_.get(), why] { impl->drain(why); });
}

StopReason HttpServer::run(ServerEvents events) {
  auto& io = impl_->io;
  auto& server = impl_->state;
  server.dispatch = std::move(events.dispatch);
  server.dispatch_websocket = std::move(events.dispatch_websocket);
  server.contexts_send_directly = events.contexts_send_directly;
  if (events.stats) server.stats = events.stats;
  impl_->events = &events;
  for (auto& listener : impl_->listeners) listener->accept();

  // Freed request and response buffers go back to the system a moment after a busy spell
  // (glibc keeps large freed blocks otherwise: see tune_malloc in main.cpp), off the request
  // path and not during the spell, whose next bodies would fault the pages in again.
  asio::steady_timer trim(io);
  bool busy = false;  // requests came in the last period
  std::function<void()> schedule_trim = [&] {
    trim.expires_after(std::chrono::seconds(2));
    trim.async_wait([&](beast::error_code ec) {
      if (ec) return;
      if (server.requests_since_trim > 0) {
        server.requests_since_trim = 0;
        busy = true;
      } else if (std::exchange(busy, false)) {
        malloc_trim(0);
      }
      schedule_trim();
    });
  };
  schedule_trim();
  // The heartbeat: proof for the arbiter that this thread still turns.
  asio::steady_timer tick(io);
  std::function<void()> schedule_tick = [&] {
    auto& stats = *server.stats;
    stats.in_flight.store(static_cast<std::int64_t>(server.exchanges_with_contexts),
                          std::memory_order_relaxed);
    stats.connections_open.store(
        static_cast<std::int64_t>(server.connections.size() + server.websockets.size()),
        std::memory_order_relaxed);
    stats.websockets_open.store(static_cast<std::int64_t>(server.websockets.size()),
                                std::memory_order_relaxed);
    if (events.on_tick) events.on_tick();
    tick.expires_after(events.tick_interval);
    tick.async_wait([&](beast::error_code ec) {
      if (!ec) schedule_tick();
    });
  };
  schedule_tick();
  impl_->wait_for_signal();
  {
    // This thread gives up its wake-up preemption while requests wait for busy contexts.
    const IoThreadPolicy::Adoption io_thread;
    // Work handed to the event loops during a burst of completions wakes them once, at its end.
    WakeBatch burst;
    SpinBeforeSleep spin(std::chrono::microseconds(server.config.io_spin_us));
    const auto poll = [&] { return io.poll() > 0; };
    while (!io.stopped()) {
      const auto wait = server.exchanges_with_contexts > 0 ? SpinBeforeSleep::Wait::answer_due
                                                           : SpinBeforeSleep::Wait::idle;
      const bool worked =
          spin.enabled() && (poll() || spin.found_work(wait, poll, [] { sched_yield(); }));
      if (!worked) {
        io.run_one();  // sleeps until something happens
        io.poll();
      }
      burst.release();
      if (server.draining && server.connections.empty() && server.websockets.empty()) break;
    }
  }
  impl_->cut_all();
  impl_->signals.cancel();
  impl_->grace.cancel();
  trim.cancel();
  tick.cancel();
  io.restart();
  io.poll();
  impl_->events = nullptr;
  return impl_->stop_reason;
}

}  // namespace hornbeam::worker
