#include "redis/target.hpp"

#include "redis/resp.hpp"

#include <sys/un.h>

#include <charconv>
#include <stdexcept>

namespace hornbeam::redis {
namespace {

std::string percent_decoded(std::string_view text, const char* what) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    unsigned value = 0;
    const char* digits = text.data() + i + 1;
    const bool whole = i + 2 < text.size();
    const auto [end, error] = whole ? std::from_chars(digits, digits + 2, value, 16)
                                    : std::from_chars_result{digits, std::errc::invalid_argument};
    if (error != std::errc() || end != digits + 2)
      throw std::invalid_argument(std::string("a bad %-escape in the ") + what);
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

// `[user:]password`, %-escaped; a password alone is `password`, as redis-py reads it.
void read_credentials(std::string_view credentials, Target& target) {
  const auto colon = credentials.find(':');
  target.user = percent_decoded(credentials.substr(0, colon), "user or password");
  if (colon != std::string_view::npos)
    target.password = percent_decoded(credentials.substr(colon + 1), "user or password");
  if (colon == std::string_view::npos)
    std::swap(target.user, target.password);  // redis://secret@host
}

int parse_db(std::string_view text) {
  int db = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), db);
  if (error != std::errc() || end != text.data() + text.size() || db < 0)
    throw std::invalid_argument("'" + std::string(text) + "' is not a database number");
  return db;
}

// What follows `unix://`: `[user:password@]/path/to/redis.sock[?db=N]`.
Target parse_unix(std::string_view rest) {
  Target target;
  if (!rest.starts_with('/')) {
    const auto at = rest.find("@/");
    if (at == std::string_view::npos)
      throw std::invalid_argument("the socket's path must be absolute: unix:///path/to/redis.sock");
    read_credentials(rest.substr(0, at), target);
    rest = rest.substr(at + 1);
  }
  std::string_view path = rest.substr(0, rest.find('?'));
  if (path.size() < rest.size()) {
    const auto query = rest.substr(path.size() + 1);
    if (!query.starts_with("db=") || query.find('&') != std::string_view::npos)
      throw std::invalid_argument("the only URL option of unix:// is ?db=N");
    target.db = parse_db(query.substr(3));
  }
  if (path.ends_with('/') || path.find('#') != std::string_view::npos)
    throw std::invalid_argument("'" + std::string(path) + "' is not a socket's path");
  // %-escaped as redis-py reads it (a '?' or '#' in a path is written %3F, %23).
  std::string decoded = percent_decoded(path, "socket's path");
  if (decoded.size() >= sizeof(sockaddr_un::sun_path) || decoded.find('\0') != std::string::npos)
    throw std::invalid_argument("a socket's path is at most " +
                                std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                " bytes, without NUL");
  target.nodes.push_back(Node{std::move(decoded), 0});
  return target;
}

Node parse_node(std::string_view text) {
  Node node;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("an IPv6 address without ']'");
    node.host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':'))
      throw std::invalid_argument("something after the IPv6 address that is not ':port'");
    if (!rest.empty()) port = rest.substr(1);
  } else {
    const auto colon = text.rfind(':');
    node.host = text.substr(0, colon);
    if (colon != std::string_view::npos) port = text.substr(colon + 1);
  }
  if (node.host.empty()) throw std::invalid_argument("no host");
  if (node.host.find_first_of("/?#@ ") != std::string::npos)
    throw std::invalid_argument("'" + node.host + "' is not a host name");
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (error != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      throw std::invalid_argument("'" + std::string(port) + "' is not a port (1-65535)");
    node.port = static_cast<std::uint16_t>(value);
  }
  return node;
}

}  // namespace

std::string to_string(const Node& node) {
  if (node.local()) return node.host;
  const bool v6 = node.host.find(':') != std::string::npos;
  return (v6 ? "[" + node.host + "]" : node.host) + ":" + std::to_string(node.port);
}

std::optional<Target> parse_backend(std::string_view text) {
  if (text == "shm") return std::nullopt;
  Target target;
  std::string_view rest;
  const auto scheme_end = text.find("://");
  const auto scheme = text.substr(0, scheme_end);
  if (scheme_end != std::string_view::npos && scheme == "unix")
    return parse_unix(text.substr(scheme_end + 3));
  target.tls = scheme == "rediss" || scheme == "rediss-cluster";
  target.cluster = scheme == "redis-cluster" || scheme == "rediss-cluster";
  if (scheme_end == std::string_view::npos || (scheme != "redis" && !target.tls && !target.cluster))
    throw std::invalid_argument(
        "expected `shm`, `redis://host:port/db`, `redis-cluster://host:port,host:port` or "
        "`unix:///path/to/redis.sock`");
  rest = text.substr(scheme_end + 3);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const auto credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    read_credentials(credentials, target);
  }
  std::string_view hosts = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    hosts = rest.substr(0, slash);
    const auto db = rest.substr(slash + 1);
    if (!db.empty()) {
      target.db = parse_db(db);
      if (target.cluster && target.db != 0)
        throw std::invalid_argument("a Redis Cluster has only database 0");
    }
  }
  if (rest.find_first_of("?#") != std::string_view::npos)
    throw std::invalid_argument("URL options (?...) are not supported");
  while (!hosts.empty()) {
    const auto comma = hosts.find(',');
    target.nodes.push_back(parse_node(hosts.substr(0, comma)));
    hosts = comma == std::string_view::npos ? std::string_view() : hosts.substr(comma + 1);
  }
  if (target.nodes.empty()) throw std::invalid_argument("no host");
  if (!target.cluster && target.nodes.size() > 1)
    throw std::invalid_argument("several hosts: write redis-cluster:// for a Redis Cluster");
  return target;
}

std::string describe(const Target& target) {
  if (!target.nodes.empty() && target.nodes[0].local()) {
    return "unix://" + (target.user.empty() ? "" : target.user + "@") + target.nodes[0].host +
           "?db=" + std::to_string(target.db);
  }
  std::string out =
      std::string(target.tls ? "rediss" : "redis") + (target.cluster ? "-cluster://" : "://");
  if (!target.user.empty()) out += target.user + "@";
  for (std::size_t i = 0; i < target.nodes.size(); ++i)
    out += (i ? "," : "") + to_string(target.nodes[i]);
  if (!target.cluster) out += "/" + std::to_string(target.db);
  return out;
}

std::size_t append_auth(std::string& out, const Target& target) {
  if (target.password.empty()) return 0;
  if (target.user.empty()) {
    append_command(out, {"AUTH", target.password});
  } else {
    append_command(out, {"AUTH", target.user, target.password});
  }
  return 1;
}

}  // namespace hornbeam::redis
