// HTTP load generator for large request and response bodies (bench/run.py's POST cells).
// wrk reads responses 8 KiB at a time (a 1 MiB echo is 128 `read` calls) and fills its core at
// about 3,000 such requests per second, below what the servers can answer: its ceiling, not
// theirs, was the cell's req/s. This one sends each request with one `send` call of a buffer
// made once and reads with a 4 MiB buffer, and does nothing else: `connections` keep-alive
// connections each send the request (a POST of BODY_BYTES, or a GET when it is 0), read the
// whole response (Content-Length framing) and send the next, for `seconds`. Prints
// "requests seconds p50_ms p99_ms errors non_2xx".
//
//   hornbeam-body-load HOST PORT PATH CONNECTIONS SECONDS BODY_BYTES

#include "common/http_text.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Totals {
  long requests = 0;
  long errors = 0;
  long non_2xx = 0;
  std::vector<double> latencies_ms;
};

struct Connection {
  int fd = -1;
  std::size_t sent = 0;      // of the request's bytes
  std::string head;          // the response head, until its blank line
  long long body_left = -1;  // -1 while the head is read
  bool close_after = false;  // the server said Connection: close
  bool watching_out = true;  // EPOLLOUT is in its epoll events (as open() registers it)
  Clock::time_point started;
};

class Load {
 public:
  Load(sockaddr_in address, std::string request, Clock::time_point stop_at)
      : address_(address),
        request_(std::move(request)),
        stop_at_(stop_at),
        scratch_(4 << 20),
        epoll_(::epoll_create1(0)) {}

  void open(Connection& connection) {
    connection = Connection{};
    connection.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(connection.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(connection.fd, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) !=
        0) {
      std::perror("connect");
      std::exit(1);
    }
    ::fcntl(connection.fd, F_SETFL, ::fcntl(connection.fd, F_GETFL) | O_NONBLOCK);
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT;
    event.data.ptr = &connection;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, connection.fd, &event);
    connection.started = Clock::now();
  }

  void run(std::vector<Connection>& connections) {
    for (auto& connection : connections) open(connection);
    std::vector<epoll_event> events(connections.size());
    while (Clock::now() < stop_at_) {
      const int ready = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 50);
      for (int i = 0; i < ready; ++i) {
        auto& connection = *static_cast<Connection*>(events[static_cast<std::size_t>(i)].data.ptr);
        if (events[static_cast<std::size_t>(i)].events & EPOLLOUT) send_more(connection);
        if (events[static_cast<std::size_t>(i)].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
          receive(connection);
      }
    }
  }

  Totals totals;

 private:
  // An epoll_ctl only when the events change: a request that goes out in one send costs none.
  void watch(Connection& connection, bool writable_too) {
    if (connection.watching_out == writable_too) return;
    connection.watching_out = writable_too;
    epoll_event event{};
    event.events = EPOLLIN | (writable_too ? EPOLLOUT : 0u);
    event.data.ptr = &connection;
    ::epoll_ctl(epoll_, EPOLL_CTL_MOD, connection.fd, &event);
  }

  void send_more(Connection& connection) {
    while (connection.sent < request_.size()) {
      const ssize_t n = ::send(connection.fd, request_.data() + connection.sent,
                               request_.size() - connection.sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) return;
        return fail(connection);
      }
      connection.sent += static_cast<std::size_t>(n);
    }
    watch(connection, false);
  }

  void receive(Connection& connection) {
    const int fd = connection.fd;
    while (true) {
      const ssize_t n = ::recv(connection.fd, scratch_.data(), scratch_.size(), 0);
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) return fail(connection);  // closed or broken in the middle of an exchange
      if (!take(connection, scratch_.data(), static_cast<std::size_t>(n))) return fail(connection);
      if (connection.fd != fd) return;  // reopened: its events come with the next wait
    }
  }

  // Consumes received bytes; false when the response cannot be read.
  bool take(Connection& connection, const char* data, std::size_t size) {
    while (size > 0) {
      if (connection.body_left < 0) {
        const std::size_t before = connection.head.size();
        connection.head.append(data, std::min<std::size_t>(size, 64 * 1024));
        const auto end = connection.head.find("\r\n\r\n");
        if (end == std::string::npos) {
          if (connection.head.size() >= 64 * 1024) return false;
          return true;  // all of `data` was head
        }
        const std::size_t used = end + 4 - before;
        connection.head.resize(end + 4);
        if (!parse_head(connection)) return false;
        data += used;
        size -= used;
      } else {
        const auto take =
            std::min<std::size_t>(size, static_cast<std::size_t>(connection.body_left));
        connection.body_left -= static_cast<long long>(take);
        data += take;
        size -= take;
      }
      if (connection.body_left == 0) {
        if (size > 0) return false;  // bytes past the response: nothing was pipelined
        finish(connection);
        return true;
      }
    }
    return true;
  }

  bool parse_head(Connection& connection) {
    const std::string head = hornbeam::ascii_lowercase(connection.head);
    if (head.size() < 12 || !head.starts_with("http/1.")) return false;
    if (head[9] != '2') ++totals.non_2xx;
    const auto field = head.find("\r\ncontent-length:");
    if (field == std::string::npos) return false;  // chunked or close-delimited: not measured
    std::size_t at = field + 17;
    while (at < head.size() && head[at] == ' ') ++at;
    long long length = 0;
    const auto [end, error] = std::from_chars(head.data() + at, head.data() + head.size(), length);
    if (error != std::errc{}) return false;
    connection.body_left = length;
    connection.close_after = head.find("\r\nconnection: close") != std::string::npos;
    return true;
  }

  void finish(Connection& connection) {
    const auto now = Clock::now();
    if (now < stop_at_) {
      ++totals.requests;
      totals.latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(now - connection.started).count());
    }
    if (connection.close_after) return reopen(connection);
    connection.sent = 0;
    connection.head.clear();
    connection.body_left = -1;
    connection.started = now;
    send_more(connection);
    if (connection.sent < request_.size()) watch(connection, true);
  }

  void fail(Connection& connection) {
    if (Clock::now() < stop_at_) ++totals.errors;
    reopen(connection);
  }

  void reopen(Connection& connection) {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, connection.fd, nullptr);
    ::close(connection.fd);
    connection.fd = -1;
    if (Clock::now() < stop_at_) open(connection);
  }

  sockaddr_in address_;
  std::string request_;
  Clock::time_point stop_at_;
  std::vector<char> scratch_;
  int epoll_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s HOST PORT PATH CONNECTIONS SECONDS BODY_BYTES\n", argv[0]);
    return 2;
  }
  const std::string host = argv[1];
  const int port = std::atoi(argv[2]);
  const std::string path = argv[3];
  const int connection_count = std::atoi(argv[4]);
  const double seconds = std::atof(argv[5]);
  const std::size_t body_bytes = std::strtoull(argv[6], nullptr, 10);

  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    std::fprintf(stderr, "not an IPv4 address: %s\n", host.c_str());
    return 2;
  }
  // A GET without a body when BODY_BYTES is 0 (large responses alone).
  std::string request = (body_bytes ? "POST " : "GET ") + path + " HTTP/1.1\r\nHost: " + host +
                        ":" + std::to_string(port) + "\r\n";
  if (body_bytes) {
    request +=
        "Content-Type: application/octet-stream\r\nContent-Length: " + std::to_string(body_bytes) +
        "\r\n";
  }
  request += "\r\n";
  request.append(body_bytes, 'p');

  const auto started = Clock::now();
  const auto stop_at =
      started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  Load load(address, std::move(request), stop_at);
  std::vector<Connection> connections(static_cast<std::size_t>(connection_count));
  load.run(connections);
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();

  auto& latencies = load.totals.latencies_ms;
  std::sort(latencies.begin(), latencies.end());
  const auto percentile = [&](double p) {
    if (latencies.empty()) return 0.0;
    return latencies[std::min(latencies.size() - 1,
                              static_cast<std::size_t>(p * static_cast<double>(latencies.size())))];
  };
  std::printf("%ld %.3f %.3f %.3f %ld %ld\n", load.totals.requests, elapsed, percentile(0.50),
              percentile(0.99), load.totals.errors, load.totals.non_2xx);
  return 0;
}
