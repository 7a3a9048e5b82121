#include "arbiter/metrics_server.hpp"

#include "common/accept_backoff.hpp"
#include "common/bind_address.hpp"
#include "common/listen_socket.hpp"

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

namespace hornbeam::arbiter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Protocol = asio::generic::stream_protocol;

constexpr auto request_deadline = std::chrono::seconds(5);
constexpr std::size_t request_limit = 8 * 1024;

http::response<http::string_body> answer(const http::request<http::empty_body>& request,
                                         const Metrics& metrics) {
  http::response<http::string_body> response{http::status::ok, request.version()};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.keep_alive(false);
  const bool head = request.method() == http::verb::head;
  if (request.method() != http::verb::get && !head) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET, HEAD");
    response.body() = "only GET and HEAD\n";
  } else if (request.target() == "/metrics") {
    response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.body() = metrics.render();
  } else if (request.target() == "/healthz") {
    const bool alive = metrics.alive();
    response.result(alive ? http::status::ok : http::status::service_unavailable);
    response.body() = alive ? "ok\n" : "the arbiter's loop has not turned for 5 s\n";
  } else if (request.target() == "/readyz") {
    const auto readiness = metrics.readiness();
    response.result(readiness.ready ? http::status::ok : http::status::service_unavailable);
    response.body() = readiness.reason + "\n";
  } else {
    response.result(http::status::not_found);
    response.body() = "not found: /metrics, /healthz and /readyz are\n";
  }
  response.prepare_payload();
  if (head) response.body().clear();  // Content-Length stays the GET's
  return response;
}

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(Protocol::socket socket, const Metrics& metrics)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), metrics_(metrics) {
    parser_.header_limit(request_limit);
  }

  void start() {
    timer_.expires_after(request_deadline);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->close();
    });
    http::async_read(socket_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->close();
                       self->respond();
                     });
  }

 private:
  void respond() {
    response_ = answer(parser_.get(), metrics_);
    http::async_write(
        socket_, response_,
        [self = shared_from_this()](beast::error_code, std::size_t) { self->close(); });
  }

  void close() {
    timer_.cancel();
    beast::error_code ignored;
    socket_.shutdown(Protocol::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Protocol::socket socket_;
  asio::steady_timer timer_;
  const Metrics& metrics_;
  beast::flat_buffer buffer_{request_limit};
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> response_;
};

}  // namespace

class MetricsServer::Impl {
 public:
  Impl(const std::string& bind, const Metrics& metrics, mode_t umask, bool take_over)
      : metrics_(metrics), bind_(bind), umask_(umask), take_over_(take_over) {
    listen();
    name_ = socket_name(acceptor_.native_handle());
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Impl() {
    io_.stop();
    thread_.join();
    if (owns_path()) ::unlink(unix_path().c_str());  // not after a USR2 upgrade took it
  }

  void reclaim(Reclaimed report) {
    asio::post(io_, [this, report = std::move(report)] {
      if (unix_path().empty() || owns_path()) return report(false, "");  // a port is shared
      boost::system::error_code ignored;
      retry_.cancel();
      acceptor_.close(ignored);  // its pending accept ends with operation_aborted
      try {
        listen();
      } catch (const std::exception& e) {
        return report(false, e.what());
      }
      accept();
      report(true, "");
    });
  }

  std::string name_;

 private:
  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, Protocol::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        // The arbiter's other thread spawns workers: nothing of this may reach them.
        ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
        std::make_shared<Exchange>(std::move(socket), metrics_)->start();
        backoff_.succeeded();
      } else if (classify_accept_failure(ec.value()) == AcceptFailure::of_this_process) {
        retry_.expires_after(backoff_.failed(ec.message()));  // common/accept_backoff.hpp
        retry_.async_wait([this](beast::error_code waited) {
          if (!waited) accept();
        });
        return;
      }
      accept();
    });
  }

  // Opens the listener (throws std::runtime_error naming the address).
  void listen() {
    ListenOptions options;
    options.backlog = 64;
    options.umask = umask_;
    // A USR2 upgrade starts a second arbiter while this one runs: both must hold the address
    // (a unix socket path is taken over by the newer one as it is).
    options.reuse_port = unix_path().empty();
    options.take_over_live_unix_socket = take_over_;
    UniqueFd fd = open_listen_socket(bind_, options);
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
    acceptor_.assign(Protocol(address.ss_family, SOCK_STREAM), fd.release());
    struct stat made {};
    if (!unix_path().empty() && ::stat(unix_path().c_str(), &made) == 0)
      identity_ = {made.st_dev, made.st_ino};
  }

  std::string unix_path() const {
    const auto address = BindAddress::parse(bind_);
    return address && address->kind == BindAddress::Kind::unix_socket ? address->path
                                                                      : std::string();
  }

  bool owns_path() const {
    struct stat now {};
    return !unix_path().empty() && ::stat(unix_path().c_str(), &now) == 0 &&
           std::pair(now.st_dev, now.st_ino) == identity_;
  }

  const Metrics& metrics_;
  const std::string bind_;
  const mode_t umask_;
  const bool take_over_;
  std::pair<dev_t, ino_t> identity_{};  // of the unix socket file this arbiter made
  asio::io_context io_{1};
  asio::basic_socket_acceptor<Protocol> acceptor_{io_};
  asio::steady_timer retry_{io_};
  AcceptBackoff backoff_{"metrics connections"};
  std::thread thread_;
};

MetricsServer::MetricsServer(const std::string& bind, const Metrics& metrics, mode_t umask,
                             bool take_over)
    : impl_(std::make_unique<Impl>(bind, metrics, umask, take_over)) {}

MetricsServer::~MetricsServer() = default;

std::string MetricsServer::name() const { return impl_->name_; }

void MetricsServer::reclaim(Reclaimed report) { impl_->reclaim(std::move(report)); }

}  // namespace hornbeam::arbiter
