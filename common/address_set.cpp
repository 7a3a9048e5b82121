#include "common/address_set.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <stdexcept>

namespace hornbeam {

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string copy(text);
  IpAddress address{};
  if (inet_pton(AF_INET6, copy.c_str(), address.data()) == 1) return address;
  address = {};
  address[10] = address[11] = 0xff;  // ::ffff:a.b.c.d
  if (inet_pton(AF_INET, copy.c_str(), address.data() + 12) == 1) return address;
  return std::nullopt;
}

std::optional<AddressSet::Range> AddressSet::parse_range(std::string_view entry) {
  const auto slash = entry.find('/');
  const auto address = parse_ip(entry.substr(0, slash));
  if (!address) return std::nullopt;
  const bool ipv4 = entry.substr(0, slash).find(':') == std::string_view::npos;
  const unsigned family_bits = ipv4 ? 32 : 128;
  unsigned bits = family_bits;
  if (slash != std::string_view::npos) {
    const auto digits = entry.substr(slash + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (digits.empty() || error != std::errc{} || end != digits.data() + digits.size() ||
        bits > family_bits) {
      return std::nullopt;
    }
  }
  return Range{*address, bits + (128 - family_bits)};
}

bool AddressSet::is_valid_entry(std::string_view entry) {
  return entry == "*" || parse_range(entry).has_value();
}

AddressSet::AddressSet(const std::vector<std::string>& entries) {
  for (const auto& entry : entries) {
    if (entry == "*") {
      everyone_ = true;
      continue;
    }
    const auto range = parse_range(entry);
    if (!range) throw std::invalid_argument("not an address or a range: " + entry);
    ranges_.push_back(*range);
  }
}

bool AddressSet::contains(const IpAddress& address) const {
  if (everyone_) return true;
  for (const auto& range : ranges_) {
    unsigned bits = range.prefix_bits;
    std::size_t i = 0;
    for (; bits >= 8; bits -= 8, ++i) {
      if (address[i] != range.network[i]) break;
    }
    if (bits >= 8) continue;  // a whole byte differed
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
    if (bits == 0 || (address[i] & mask) == (range.network[i] & mask)) return true;
  }
  return false;
}

bool AddressSet::contains(std::string_view address) const {
  if (everyone_) return true;
  const auto parsed = parse_ip(address);
  return parsed && contains(*parsed);
}

}  // namespace hornbeam
