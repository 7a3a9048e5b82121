#include "common/bind_address.hpp"

#include <charconv>

namespace hornbeam {
namespace {

template <class Int>
std::optional<Int> whole_number(std::string_view text) {
  Int value{};
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<BindAddress> BindAddress::parse(std::string_view text) {
  BindAddress address;
  if (text.starts_with("https://")) {
    address.tls = true;
    text.remove_prefix(8);
    if (text.starts_with("fd://")) return std::nullopt;  // an inherited socket says nothing
  } else if (text.starts_with("http://")) {
    text.remove_prefix(7);
  }
  if (text.starts_with("unix:")) {
    address.kind = Kind::unix_socket;
    address.path = std::string(text.substr(5));
    if (address.path.empty()) return std::nullopt;
    return address;
  }
  if (text.starts_with("fd://")) {
    address.kind = Kind::inherited_fd;
    const auto fd = whole_number<int>(text.substr(5));
    if (!fd || *fd < 0) return std::nullopt;
    address.fd = *fd;
    return address;
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  if (host.starts_with('[')) {
    if (!host.ends_with(']') || host.size() < 3) return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // a bare IPv6 address must be written [v6]:port
  }
  // ":8000" is every IPv4 interface, as Gunicorn reads it (`gunicorn --bind :$PORT`, the
  // form containers' docs use).
  if (host.empty() && colon == 0) host = "0.0.0.0";
  if (host.empty() || host.find_first_of(" /") != std::string_view::npos) return std::nullopt;
  const auto port = whole_number<std::uint16_t>(text.substr(colon + 1));
  if (!port) return std::nullopt;
  address.host = std::string(host);
  address.port = *port;
  return address;
}

std::string BindAddress::to_string() const {
  switch (kind) {
    case Kind::unix_socket: return "unix:" + path;
    case Kind::inherited_fd: return "fd://" + std::to_string(fd);
    case Kind::tcp: break;
  }
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace hornbeam
