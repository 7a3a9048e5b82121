#pragma once

// The worker's Redis client: a standalone server or a Redis Cluster, each node behind one
// pipelined Connection, opened on first use and again after a failure, with backoff.
//
// - Every call finishes within `timeout` (its deadline covers connecting, redirections and
//   the replies), or throws Unavailable.
// - A node that fails is not tried again before its backoff passes (100 ms, doubling to
//   5 s): calls meanwhile fail at once instead of each waiting out the timeout.
// - The loss of a node and its recovery are one log line each, never one per call.
// - Cluster: keys go to the master serving their hash slot (CRC16 of the key, or of its
//   {hash tag}); MOVED updates the slot map and retries there, ASK retries once with ASKING;
//   the map is read again (CLUSTER SLOTS) after a MOVED or a lost node.

#include "redis/connection.hpp"
#include "redis/resp.hpp"
#include "redis/target.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hornbeam::redis {

// The cluster hash slot of `key` (0-16383).
std::uint16_t key_slot(std::string_view key);

class Client {
 public:
  // `ca_file`: for rediss://, the CAs the servers' certificates must chain to (empty: the
  // system's). Throws std::runtime_error when they cannot be read.
  Client(Target target, std::chrono::milliseconds timeout, const std::string& ca_file = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  using Words = std::span<const std::string_view>;

  // `words` on the node serving `key`. Error replies are returned, except the cluster's own
  // (MOVED, ASK: followed; TRYAGAIN: retried; CLUSTERDOWN: Unavailable). Throws Unavailable.
  Reply call(std::string_view key, Words words);

  // One command per key, pipelined per node; the replies in the order of `commands`.
  struct Keyed {
    std::string_view key;
    std::vector<std::string_view> words;
  };
  std::vector<Reply> call_each(std::span<const Keyed> commands);

  // Standalone: `words` as one MULTI/EXEC transaction, so they run at one instant; the reply
  // of each. (Only for a standalone server: a cluster's keys are on several nodes.)
  std::vector<Reply> transaction(std::span<const std::vector<std::string_view>> commands);

  // The masters (for commands about every key: SCAN, DBSIZE, INFO), as indexes for call_on.
  std::vector<std::size_t> masters();
  Reply call_on(std::size_t node, Words words);

  bool cluster() const { return target_.cluster; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  const Target& target() const { return target_; }
  // rediss://'s TLS context; null for redis://.
  const std::shared_ptr<SSL_CTX>& tls() const { return tls_; }

  // Connects now (at worker start, so that the log says early whether Redis is there); a
  // failure is logged, not thrown.
  void try_connect();

 private:
  struct Link;

  Clock::time_point deadline() const { return Clock::now() + timeout_; }
  std::shared_ptr<Connection> connection(Link& link, Clock::time_point deadline);
  std::vector<Reply> exchange(std::size_t node, std::string_view commands, std::size_t count,
                              Clock::time_point deadline);
  std::size_t node_for(std::string_view key, Clock::time_point deadline);
  std::size_t link_index(const Node& node);  // adds the node if it is new
  void read_slot_map(Clock::time_point deadline);
  void lost_topology();

  const Target target_;
  const std::chrono::milliseconds timeout_;
  const std::shared_ptr<SSL_CTX> tls_;
  mutable std::shared_mutex topology_mutex_;
  std::vector<std::unique_ptr<Link>> links_;                // grows only (indexes stay valid)
  std::unique_ptr<std::array<std::int16_t, 16384>> slots_;  // node per slot; -1: not served
  bool slots_known_ = false;
  bool stale_ = false;  // a MOVED or a lost node: the map may be out of date
  Clock::time_point slots_read_at_{};
};

}  // namespace hornbeam::redis
