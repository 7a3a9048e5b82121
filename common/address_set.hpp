#pragma once

// A set of peer addresses for trust decisions (which proxies' forwarding headers to believe):
// single IPv4 and IPv6 addresses, CIDR ranges ("10.0.0.0/8", "fd00::/8"), or everyone ("*").
// An IPv4 address seen through an IPv6 socket (::ffff:10.1.2.3) is the IPv4 address.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hornbeam {

// A numeric address: IPv4 addresses are kept as their IPv4-mapped IPv6 form, so that one
// comparison covers both families.
using IpAddress = std::array<std::uint8_t, 16>;

// "10.1.2.3", "::1", "::ffff:10.1.2.3" (also "[::1]"); nullopt for anything else.
std::optional<IpAddress> parse_ip(std::string_view text);

class AddressSet {
 public:
  AddressSet() = default;
  // Throws std::invalid_argument naming the first entry that is not `*`, an address or a range.
  explicit AddressSet(const std::vector<std::string>& entries);

  // "*", an address, or address/prefix-length within the family's bits.
  static bool is_valid_entry(std::string_view entry);

  bool contains(const IpAddress& address) const;
  // The numeric text of an address; false for text that is none.
  bool contains(std::string_view address) const;
  bool empty() const { return !everyone_ && ranges_.empty(); }

 private:
  struct Range {
    IpAddress network;
    unsigned prefix_bits;  // of the 128 (an IPv4 range's count 96 more)
  };
  static std::optional<Range> parse_range(std::string_view entry);

  bool everyone_ = false;
  std::vector<Range> ranges_;
};

}  // namespace hornbeam
