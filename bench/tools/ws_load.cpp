// WebSocket load generator for bench/run.py (no Debian package does this; wrk speaks only
// HTTP): `clients` connections each send a message, wait for its echo and send the next, for
// `seconds`. Prints "messages_per_second p50_ms p99_ms errors".
//
//   hornbeam-ws-load HOST PORT PATH CLIENTS SECONDS MESSAGE_BYTES

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Totals {
  std::vector<double> latencies_ms;
  long errors = 0;
  Clock::time_point stop_at;
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(asio::io_context& io, Totals& totals, std::string message)
      : ws_(io), totals_(totals), message_(std::move(message)) {}

  void start(const tcp::endpoint& endpoint, const std::string& host, const std::string& path) {
    beast::get_lowest_layer(ws_).connect(endpoint);
    beast::get_lowest_layer(ws_).set_option(tcp::no_delay(true));
    ws_.handshake(host, path);
    send();
  }

 private:
  void send() {
    if (Clock::now() >= totals_.stop_at) {
      beast::error_code ignored;
      return ws_.close(websocket::close_code::normal, ignored);
    }
    sent_at_ = Clock::now();
    ws_.text(true);
    ws_.async_write(
        asio::buffer(message_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) return void(++self->totals_.errors);
          self->ws_.async_read(self->buffer_, [self](beast::error_code read_error, std::size_t) {
            if (read_error) return void(++self->totals_.errors);
            self->buffer_.clear();
            self->totals_.latencies_ms.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - self->sent_at_).count());
            self->send();
          });
        });
  }

  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buffer_;
  Totals& totals_;
  std::string message_;
  Clock::time_point sent_at_;
};

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s HOST PORT PATH CLIENTS SECONDS MESSAGE_BYTES\n", argv[0]);
    return 2;
  }
  const std::string host = argv[1];
  const tcp::endpoint endpoint(asio::ip::make_address(host),
                               static_cast<unsigned short>(std::atoi(argv[2])));
  const std::string path = argv[3];
  const int clients = std::atoi(argv[4]);
  const double seconds = std::atof(argv[5]);
  const std::string message(static_cast<std::size_t>(std::atoi(argv[6])), 'x');

  asio::io_context io;
  Totals totals;
  totals.stop_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  const auto started = Clock::now();
  for (int i = 0; i < clients; ++i)
    std::make_shared<Client>(io, totals, message)->start(endpoint, host, path);
  io.run();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  auto& latencies = totals.latencies_ms;
  std::sort(latencies.begin(), latencies.end());
  const auto at = [&](double q) {
    return latencies.empty() ? 0.0
                             : latencies[static_cast<std::size_t>(q * (latencies.size() - 1))];
  };
  std::printf("%.0f %.3f %.3f %ld\n", static_cast<double>(latencies.size()) / elapsed, at(0.5),
              at(0.99), totals.errors);
  return 0;
}
