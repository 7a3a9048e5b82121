#include "config/checks.hpp"

#include "common/address_set.hpp"
#include "common/bind_address.hpp"
#include "redis/target.hpp"

#include <cctype>
#include <stdexcept>
#include <string>

namespace hornbeam::config {
namespace {

bool is_identifier(std::string_view word) {
  if (word.empty() || std::isdigit(static_cast<unsigned char>(word.front()))) return false;
  for (const char c : word) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

bool is_dotted_identifier(std::string_view path) {
  while (true) {
    const auto dot = path.find('.');
    if (!is_identifier(path.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    path.remove_prefix(dot + 1);
  }
}

// `module`, `module:callable` or `module:factory(ARGS)`; the worker, which has Python, reads
// ARGS (Python literals).
bool is_app_spec(std::string_view value) {
  const auto colon = value.find(':');
  if (!is_dotted_identifier(value.substr(0, colon))) return false;
  if (colon == std::string_view::npos) return true;
  std::string_view callable = value.substr(colon + 1);
  const auto call = callable.find('(');
  if (call != std::string_view::npos && !callable.ends_with(')')) return false;
  return is_dotted_identifier(callable.substr(0, call));
}

}  // namespace

const TextCheck app_spec{is_app_spec,
                         "an app as `module:callable` (e.g. `myproject.wsgi:application`) or "
                         "`module:factory(ARGS)`"};

const TextCheck optional_app_spec{
    [](std::string_view value) { return value.empty() || is_app_spec(value); },
    "empty or `module:callable`"};

const TextCheck bind_address{
    [](std::string_view value) { return BindAddress::parse(value).has_value(); },
    "an address as `host:port`, `[ipv6]:port`, `unix:/path` or `fd://N`, with `https://` "
    "before a TCP or unix address for TLS"};

const TextCheck optional_bind_address{
    [](std::string_view value) {
      if (value.empty()) return true;
      const auto address = BindAddress::parse(value);
      return address && !address->tls;  // the metrics listener is plain HTTP
    },
    "empty or an address as `host:port`, `[ipv6]:port` or `unix:/path`"};

const TextCheck mount_prefix{
    [](std::string_view value) {
      return value.starts_with('/') && (value == "/" || !value.ends_with('/'));
    },
    "a path prefix that starts with `/` and does not end with `/` (e.g. `/api`)"};

const TextCheck state_backend{[](std::string_view value) {
                                try {
                                  redis::parse_backend(value);
                                  return true;
                                } catch (const std::invalid_argument&) {
                                  return false;
                                }
                              },
                              "`shm`, `redis://[user:password@]host[:port][/db]`, "
                              "`redis-cluster://[user:password@]host:port[,host:port...]` or "
                              "`unix://[user:password@]/path/to/redis.sock[?db=N]`"};

const TextCheck forwarded_ip{AddressSet::is_valid_entry,
                             "an IP address, a CIDR range such as `10.0.0.0/8`, or `*`"};

}  // namespace hornbeam::config
