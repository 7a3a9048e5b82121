#pragma once

// The arbiter's own small HTTP listener (`metrics_bind`), never on the app's port: GET or HEAD
// /metrics (Prometheus text), /healthz (the arbiter's loop turns: 200) and /readyz (200 while
// a worker is ready and the arbiter is not stopping, else 503 with the reason). It runs on a
// thread of its own, so that a scrape never delays supervision; one request per connection.

#include "arbiter/metrics.hpp"

#include <functional>
#include <memory>
#include <string>

namespace hornbeam::arbiter {

class MetricsServer {
 public:
  // Opens the listener (throws std::runtime_error naming the address) and starts serving.
  // `take_over`: a live arbiter's unix socket at the path becomes this one's (a USR2 upgrade).
  MetricsServer(const std::string& bind, const Metrics& metrics, mode_t umask, bool take_over);
  ~MetricsServer();  // stops serving
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::string name() const;  // "127.0.0.1:9100" (the real port when bound to 0), "unix:/path"

  // Serves at its unix socket path again after another arbiter took the path and died (a USR2
  // upgrade that failed); a TCP port is shared, so there is nothing to do. Runs on the
  // server's thread; `report` says from there whether it serves the path again, or why not.
  using Reclaimed = std::function<void(bool served_again, const std::string& error)>;
  void reclaim(Reclaimed report);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hornbeam::arbiter
