#include "arbiter/control_server.hpp"

#include "common/accept_backoff.hpp"
#include "common/listen_socket.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>
#include <utility>

namespace hornbeam::arbiter {
namespace {

namespace asio = boost::asio;
using Protocol = asio::local::stream_protocol;
constexpr std::size_t request_limit = 4096;

// The peer's user: the arbiter's own, or root.
bool trusted_peer(int fd) {
  ucred peer{};
  socklen_t length = sizeof peer;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) return false;
  return peer.uid == 0 || peer.uid == ::geteuid();
}

class Conversation : public std::enable_shared_from_this<Conversation> {
 public:
  Conversation(Protocol::socket socket, const ControlServer::Run& run)
      : socket_(std::move(socket)), input_(request_limit), run_(run) {}

  void read_request() {
    asio::async_read_until(
        socket_, input_, '\n',
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (ec) return;  // closed, or a line over the limit: dropped
          std::string line(
              asio::buffers_begin(self->input_.data()),
              asio::buffers_begin(self->input_.data()) + static_cast<std::ptrdiff_t>(n) - 1);
          self->input_.consume(n);
          self->answer_ = self->run_(line) + "\n";
          self->write_answer();
        });
  }

 private:
  void write_answer() {
    asio::async_write(socket_, asio::buffer(answer_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (!ec) self->read_request();  // several commands per connection
                      });
  }

  Protocol::socket socket_;
  asio::streambuf input_;
  const ControlServer::Run& run_;
  std::string answer_;
};

}  // namespace

class ControlServer::Impl {
 public:
  Impl(const std::string& path, bool take_over, Run run)
      : path_(path), take_over_(take_over), run_(std::move(run)) {
    if (const auto error = listen(); !error.empty()) throw std::runtime_error(error);
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }

  void reclaim(Reclaimed report) {
    asio::post(io_, [this, report = std::move(report)] {
      if (owns_path()) return report(false, "");  // the other arbiter never took it
      boost::system::error_code ignored;
      retry_.cancel();
      acceptor_.close(ignored);  // its pending accept ends with operation_aborted
      const auto error = listen();
      if (error.empty()) accept();
      report(error.empty(), error);
    });
  }

  ~Impl() {
    io_.stop();
    thread_.join();
    // After a USR2 upgrade the path is the new arbiter's socket: leave it.
    if (owns_path()) ::unlink(path_.c_str());
  }

 private:
  // A new socket at the path (replacing whatever file is there: the socket of an arbiter that
  // died). The error's text, or empty.
  std::string listen() {
    try {
      clear_unix_socket_path(path_, "control_socket " + path_, take_over_);
    } catch (const std::exception& e) {
      return e.what();
    }
    const mode_t previous = ::umask(0177);  // 0600 from its creation on
    boost::system::error_code ec;
    acceptor_.open(Protocol(), ec);
    if (!ec) acceptor_.bind(Protocol::endpoint(path_), ec);
    ::umask(previous);
    if (!ec) acceptor_.listen(16, ec);
    if (ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      return "control_socket " + path_ + ": " + ec.message();
    }
    struct stat made {};
    if (::stat(path_.c_str(), &made) == 0) identity_ = {made.st_dev, made.st_ino};
    ::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);
    return {};
  }

  bool owns_path() const {
    struct stat now {};
    return ::stat(path_.c_str(), &now) == 0 && std::pair(now.st_dev, now.st_ino) == identity_;
  }

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, Protocol::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);  // workers are spawned meanwhile
        if (trusted_peer(socket.native_handle())) {
          std::make_shared<Conversation>(std::move(socket), run_)->read_request();
        }
        backoff_.succeeded();
      } else if (classify_accept_failure(ec.value()) == AcceptFailure::of_this_process) {
        retry_.expires_after(backoff_.failed(ec.message()));  // common/accept_backoff.hpp
        retry_.async_wait([this](boost::system::error_code waited) {
          if (!waited) accept();
        });
        return;
      }
      accept();
    });
  }

  std::string path_;
  const bool take_over_;
  std::pair<dev_t, ino_t> identity_{};  // of the socket file this arbiter made
  Run run_;
  asio::io_context io_{1};
  Protocol::acceptor acceptor_{io_};
  asio::steady_timer retry_{io_};
  AcceptBackoff backoff_{"control connections"};
  std::thread thread_;
};

ControlServer::ControlServer(const std::string& path, bool take_over, Run run)
    : impl_(std::make_unique<Impl>(path, take_over, std::move(run))) {}

ControlServer::~ControlServer() = default;

void ControlServer::reclaim(Reclaimed report) { impl_->reclaim(std::move(report)); }

}  // namespace hornbeam::arbiter
