#pragma once

// What every connection of a worker shares, whatever protocol it speaks (the HTTP/1.1 session,
// the HTTP/2 session): the settings, the dispatch into the contexts, the doorbell that brings
// responses back to the I/O thread, the counters. Included only by the Beast translation
// units.

#include "common/address_set.hpp"
#include "common/http_exchange.hpp"
#include "common/requests_in_contexts.hpp"
#include "common/shared_segment.hpp"
#include "common/wake_batch.hpp"
#include "config/config.hpp"
#include "worker/access_log.hpp"
#include "worker/connection_stream.hpp"
#include "worker/http_server.hpp"
#include "worker/mount_router.hpp"
#include "worker/proxy_protocol.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace hornbeam::worker {

class WebSocketSession;

// How much of one response may wait for a slow client before the app's writes wait.
inline constexpr std::size_t response_high_water = 1 << 20;

// Something the I/O thread must look at because a context handed it work (a response channel
// woke it): a connection, or one HTTP/2 stream of one.
class Flushable {
 public:
  virtual void flush() = 0;

 protected:
  ~Flushable() = default;
};

// A connection the server can stop: every protocol's session is one.
class ServedConnection {
 public:
  // Stopping: finish what is in flight, take nothing new (after a short linger), then close.
  virtual void drain() = 0;
  // The app is stuck: answer 504 to whatever has not started its response, then close.
  virtual void time_out() = 0;
  // Fast stop: close now; contexts writing to it learn that the client is gone.
  virtual void cut() = 0;

 protected:
  ~ServedConnection() = default;
};

// Connections whose response channels have something for the I/O thread. One ring of a
// doorbell (an eventfd the I/O thread waits on) wakes it for all of them, and an event loop
// holds that ring until the end of its turn (WakeBatch): answering 50 requests then costs one
// thread switch, not 50. Not asio::post: Asio interrupts its reactor while holding its
// scheduler's lock, and on a busy core the I/O thread it wakes preempts the poster right
// there, only to block on that lock (two more thread switches per response at one
// connection, seen in perf).
class FlushQueue final : public Wakeable {
 public:
  explicit FlushQueue(boost::asio::io_context& io);

  // Any thread.
  void push(const std::weak_ptr<Flushable>& target);
  void wake_now() override;

 private:
  void listen();
  void run();  // I/O thread: flushes every queued target

  boost::asio::posix::stream_descriptor bell_;
  std::mutex mutex_;
  std::vector<std::weak_ptr<Flushable>> pending_;
  // run()'s batch, swapped with pending_ and emptied after: both keep their capacity, so
  // that a push (from a context) does not allocate what the I/O thread then frees.
  std::vector<std::weak_ptr<Flushable>> running_;
  bool rung_ = false;  // a run() is on its way
};

// What the I/O side needs to know of each app it routes to.
struct ServedApp {
  std::string prefix;
  bool asgi = false;
  std::uint64_t max_body_size = 0;  // 0: none
  std::string body_limit_name;      // which setting it comes from, for the 413's log line
};

std::vector<ServedApp> served_app_table(const config::Config& config);

// What all connections of the worker share.
struct ServerState {
  ServerState(boost::asio::io_context& io, const config::Config& config);

  boost::asio::io_context& io;
  const config::Config& config;
  Dispatch dispatch{};
  DispatchWebSocket dispatch_websocket{};
  bool contexts_send_directly = false;
  shm::WorkerStats own_stats{};  // used when ServerEvents brings none
  shm::WorkerStats* stats = &own_stats;
  FlushQueue flushes{io};
  // Dispatched, and the response not yet complete.
  RequestsInContexts exchanges_with_contexts;
  std::set<ServedConnection*> connections{};
  std::set<WebSocketSession*> websockets{};
  bool draining = false;
  std::uint64_t requests_since_trim = 0;
  AccessLogFormat access_format;
  AddressSet trusted_proxies;
  // The apps the worker serves, in config::served_apps' order, and which serves a path.
  std::vector<ServedApp> apps;
  std::optional<MountRouter> router;  // none for one app at `/` (the common case)
  int route(std::string_view path) const { return router ? router->route(path) : 0; }
  ProxyProtocol proxy_protocol;
  AddressSet proxy_peers;
  bool access_json;
};

// A connection's client and server as a PROXY protocol header named them (read before the TLS
// handshake on an `https://` bind): they stand for the socket's ends.
struct ProxiedEnds {
  std::pair<std::string, std::uint16_t> remote;
  std::pair<std::string, std::uint16_t> local;
};

// Numeric address and port of a socket endpoint ("" and 0 for unix sockets).
std::pair<std::string, std::uint16_t> endpoint_address(const Protocol::endpoint& endpoint);

}  // namespace hornbeam::worker
