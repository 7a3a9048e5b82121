#pragma once

// One `bind` entry: "host:port", "[v6]:port", "unix:/path" or "fd://N"; "https://" before a
// TCP or unix address serves TLS on it ("http://" is allowed and means plain).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hornbeam {

struct BindAddress {
  enum class Kind { tcp, unix_socket, inherited_fd };
  Kind kind = Kind::tcp;
  std::string host;  // tcp: name or address, without brackets
  std::uint16_t port = 0;
  std::string path;  // unix
  int fd = -1;       // inherited_fd
  bool tls = false;  // written https://

  static std::optional<BindAddress> parse(std::string_view text);
  std::string to_string() const;  // the address, without the scheme
};

}  // namespace hornbeam
