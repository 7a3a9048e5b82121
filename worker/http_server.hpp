#pragma once

// The worker's HTTP/1.1 side (Boost.Beast on Asio, kept out of this header): accepts on the
// listen sockets, parses requests within the configured limits, hands each one to `dispatch`
// and writes the response the sink receives, in request order.

#include "common/http_exchange.hpp"
#include "common/shared_segment.hpp"
#include "common/websocket_exchange.hpp"
#include "config/config.hpp"

#include <array>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <vector>

namespace hornbeam::worker {

// The request is an rvalue reference all the way to whoever keeps it: a request is a dozen
// strings, and each by-value hop would move them all.
using Dispatch = std::function<void(HttpRequest&& request, std::shared_ptr<ResponseSink> sink)>;
// A WebSocket handshake: the app accepts through `peer`, or answers through `sink` (a 403 or
// its own response) to refuse it.
using DispatchWebSocket =
    std::function<void(HttpRequest&& request, std::shared_ptr<ResponseSink> sink,
                       std::shared_ptr<WebSocketPeer> peer)>;

// What the server calls back, all on the I/O thread.
struct ServerEvents {
  Dispatch dispatch;
  // Set by ASGI workers: upgrade requests go here, and their connections are watched for
  // disconnects while the app runs. Without it they are plain HTTP requests (WSGI).
  DispatchWebSocket dispatch_websocket;
  // Set by WSGI workers: a context ends one response at a time, and sending a small complete
  // one itself saves waking the I/O thread first (ResponseChannel::send_directly_to). Not for
  // event loops: they end many responses per turn, and the I/O thread's one pass over them
  // all is cheaper (measured: -18 % ASGI throughput at 50 connections with direct sends).
  bool contexts_send_directly = false;
  std::function<void()> on_tick;  // every tick_interval while serving (the heartbeat)
  // Where responses, connections and what is open are counted for the arbiter's /metrics
  // (the worker's slot, or the worker's own when it runs alone). Gauges are published at
  // every tick.
  shm::WorkerStats* stats = nullptr;
  std::chrono::milliseconds tick_interval{1000};
  std::function<void()> on_drain;  // a graceful stop began
  std::function<void()> on_stuck;  // SIGABRT (the arbiter timed the worker out): log where
};

// A listen socket and what it serves: TLS (an `https://` bind) or plain HTTP.
struct ListenFd {
  int fd = -1;
  bool tls = false;
};

enum class StopReason {
  graceful,  // SIGTERM or request_graceful_stop: in-flight requests finished (or graceful_timeout)
  fast,      // SIGINT / SIGQUIT
  stuck,     // SIGABRT: the app is stuck; contexts may never return
};

// The signals the server handles (see run()). From the first server on they stay caught until
// the process exits (one arriving after run() is dropped).
inline constexpr std::array<int, 5> kServerSignals = {SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGABRT};

// The arbiter's signals, which a worker takes no action on: `pkill -HUP hornbeam` reaches the
// workers too, and their default action (die, or stop) would cut every request in flight, as
// nginx's workers avoid by ignoring them. Caught, never SIG_IGN: an ignored disposition would
// pass to the app's child processes across exec. (SIGWINCH is ignored by default already, and
// a terminal sends it at every resize.)
inline constexpr std::array<int, 4> kArbiterSignals = {SIGHUP, SIGUSR2, SIGTTIN, SIGTTOU};

// Owns the I/O thread's world (io_context, listeners, connections, signals). Create it
// before the context pool and destroy it after, so that contexts never post into a dead
// io_context; from its construction on, SIGTERM/SIGINT/SIGQUIT/SIGUSR1/SIGABRT wait for run().
class HttpServer {
 public:
  // Takes ownership of the listen sockets. Throws when the TLS files do not load.
  HttpServer(const config::Config& config, const std::vector<ListenFd>& listen_fds);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves until told to stop:
  // - SIGTERM: stop accepting, finish in-flight requests within graceful_timeout;
  // - SIGINT / SIGQUIT: stop now;
  // - SIGABRT: on_stuck, then a 504 to every request whose response has not started;
  // and reopens the log files on SIGUSR1. On return every connection is closed and any
  // context still writing a response has been told the client is gone.
  StopReason run(ServerEvents events);

  // From any thread: the same as SIGTERM (a worker past max_requests with no arbiter).
  void request_graceful_stop(const char* why);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hornbeam::worker
