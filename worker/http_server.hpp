#pragma once

// The worker's HTTP/1.1 side (Boost.Beast on Asio, kept out of this header): accepts on the
// listen sockets, parses requests within the configured limits, hands each one to `dispatch`
// and writes the response the sink receives, in request order.

#include "common/http_exchange.hpp"
#include "config/config.hpp"

#include <functional>
#include <memory>
#include <vector>

namespace hornbeam::worker {

using Dispatch = std::function<void(HttpRequest request, std::shared_ptr<ResponseSink> sink)>;

// Opens a listen socket for a `bind` entry (host:port, [v6]:port, unix:/path), close-on-exec.
// Throws std::runtime_error naming the address.
int open_listen_socket(const std::string& bind, int backlog);

// Owns the I/O thread's world (io_context, listeners, connections, stop signals). Create it
// before the context pool and destroy it after, so that contexts never post into a dead
// io_context; from its construction on, SIGTERM/SIGINT/SIGQUIT wait for run().
class HttpServer {
 public:
  HttpServer(const config::Config& config, const std::vector<int>& listen_fds);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves until SIGTERM (stop accepting, finish in-flight requests within graceful_timeout)
  // or SIGINT/SIGQUIT (stop now). On return every connection is closed and any context still
  // writing a response has been told the client is gone.
  void run(Dispatch dispatch);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hornbeam::worker
