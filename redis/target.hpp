#pragma once

// Where the shared state lives when it is on Redis: `shared_state.backend`'s URL, read.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hornbeam::redis {

struct Node {
  std::string host;  // with port 0 (unix://), the path of a local Redis's socket
  std::uint16_t port = 6379;
  bool operator==(const Node&) const = default;
  bool local() const { return port == 0; }
};

std::string to_string(const Node& node);

struct Target {
  bool cluster = false;     // redis-cluster://: the nodes are seeds; the cluster names the rest
  bool tls = false;         // rediss://, rediss-cluster://
  std::vector<Node> nodes;  // one for a standalone server
  std::string user;         // AUTH's, when given (Redis 6 ACL user)
  std::string password;
  int db = 0;  // SELECT's (standalone only: a cluster has one database)
};

// `shared_state.backend`: nothing for `shm`, the target of a Redis URL
// (`redis://[user:password@]host[:port][/db]`, `redis-cluster://host:port[,host:port...]`,
// over TLS `rediss://...`, `rediss-cluster://...`, and a local server's socket
// `unix://[user:password@]/path/to/redis.sock[?db=N]`, as redis-py writes it).
// Throws std::invalid_argument saying what is wrong.
std::optional<Target> parse_backend(std::string_view text);

// The URL without its password, for logs.
std::string describe(const Target& target);

// Appends the AUTH command a connection to `target` starts with, if it has a password: the
// number of commands appended (0 or 1).
std::size_t append_auth(std::string& out, const Target& target);

}  // namespace hornbeam::redis
