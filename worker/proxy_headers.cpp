#include "worker/proxy_headers.hpp"

#include "common/http_text.hpp"
#include "worker/request_head_check.hpp"

#include "common/logging.hpp"

#include <spdlog/logger.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>

namespace hornbeam::worker {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Every comma-separated value of every field called `name`, in order.
std::vector<std::string_view> list_values(const std::vector<HttpHeader>& headers,
                                          std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& header : headers) {
    if (!iequals(header.name, name)) continue;
    std::string_view rest = header.value;
    while (true) {
      const auto comma = rest.find(',');
      if (const auto value = trim(rest.substr(0, comma)); !value.empty()) values.push_back(value);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return values;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned port = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(port);
}

struct Node {
  std::string address;  // as the adapters show it: "10.1.2.3", "2001:db8::1"
  IpAddress ip;
  std::uint16_t port = 0;
};

// "10.1.2.3", "10.1.2.3:4711", "[2001:db8::1]:4711", "2001:db8::1"; nullopt for anything
// else (RFC 7239's "unknown" and obfuscated identifiers included).
std::optional<Node> parse_node(std::string_view text) {
  Node node;
  std::string_view host = text;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return std::nullopt;
      const auto port = parse_port(rest.substr(1));
      if (!port) return std::nullopt;
      node.port = *port;
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const auto colon = text.find(':');
    host = text.substr(0, colon);
    const auto port = parse_port(text.substr(colon + 1));
    if (!port) return std::nullopt;
    node.port = *port;
  }
  const auto ip = parse_ip(host);
  if (!ip) return std::nullopt;
  node.ip = *ip;
  node.address = std::string(host);
  return node;
}

// RFC 7239 §4: Forwarded = 1#forwarded-element; forwarded-element = [ pair ] *( ";" [ pair ] );
// pair = token "=" value; value = token / quoted-string.
struct ForwardedElement {
  std::string for_node, proto, host;
};

std::optional<std::string> parameter_value(std::string_view value) {
  if (!value.starts_with('"'))
    return is_token(value) ? std::optional(std::string(value)) : std::nullopt;
  if (value.size() < 2 || !value.ends_with('"')) return std::nullopt;
  std::string out;
  for (std::size_t i = 1; i + 1 < value.size(); ++i) {
    if (value[i] == '\\' && i + 2 < value.size())
      ++i;
    else if (value[i] == '"')
      return std::nullopt;
    out += value[i];
  }
  return out;
}

// Splits at `separator` outside quoted strings.
std::vector<std::string_view> split_outside_quotes(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && quoted)
      ++i;
    else if (text[i] == '"')
      quoted = !quoted;
    else if (text[i] == separator && !quoted) {
      parts.push_back(trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  parts.push_back(trim(text.substr(start)));
  return parts;
}

std::optional<std::vector<ForwardedElement>> parse_forwarded(
    const std::vector<HttpHeader>& headers) {
  std::vector<ForwardedElement> elements;
  for (const auto& header : headers) {
    if (!iequals(header.name, "Forwarded")) continue;
    for (const auto element_text : split_outside_quotes(header.value, ',')) {
      ForwardedElement element;
      for (const auto pair : split_outside_quotes(element_text, ';')) {
        if (pair.empty()) continue;
        const auto equals = pair.find('=');
        if (equals == std::string_view::npos) return std::nullopt;
        const auto name = trim(pair.substr(0, equals));
        const auto value = parameter_value(trim(pair.substr(equals + 1)));
        if (!is_token(name) || !value) return std::nullopt;
        if (iequals(name, "for"))
          element.for_node = *value;
        else if (iequals(name, "proto"))
          element.proto = *value;
        else if (iequals(name, "host"))
          element.host = *value;
      }
      elements.push_back(std::move(element));
    }
  }
  return elements;
}

// The index of the client among `nodes` (left to right, as the proxies appended them): the
// right-most one that is not a trusted proxy, or the left-most when all are. -1 when the one
// it would be cannot be read as an address.
int client_index(const std::vector<std::optional<Node>>& nodes, const AddressSet& trusted) {
  for (int i = static_cast<int>(nodes.size()) - 1; i >= 0; --i) {
    const auto& node = nodes[static_cast<std::size_t>(i)];
    if (!node) return -1;
    if (!trusted.contains(node->ip) || i == 0) return i;
  }
  return -1;
}

// The scheme the secure-scheme headers agree on ("" when none is sent); nullopt when they
// disagree, which Gunicorn refuses too.
std::optional<std::string> secure_scheme(const std::vector<HttpHeader>& headers) {
  std::string scheme;
  const auto vote = [&](bool secure) {
    const std::string said = secure ? "https" : "http";
    if (!scheme.empty() && scheme != said) return false;
    scheme = said;
    return true;
  };
  for (const auto value : list_values(headers, "X-Forwarded-Ssl")) {
    if (!vote(iequals(value, "on"))) return std::nullopt;
  }
  for (const auto value : list_values(headers, "X-Forwarded-Protocol")) {
    if (!vote(iequals(value, "ssl"))) return std::nullopt;
  }
  if (const auto protos = list_values(headers, "X-Forwarded-Proto"); !protos.empty()) {
    const auto proto = protos.back();  // the nearest proxy's
    if (!vote(iequals(proto, "https") || iequals(proto, "wss"))) return std::nullopt;
  }
  return scheme;
}

// Whether any field a proxy sets is there: most requests have none, and need no more work.
bool has_proxy_fields(const std::vector<HttpHeader>& headers) {
  for (const auto& header : headers) {
    const std::string_view name = header.name;
    if (iequals(name, "Forwarded") ||
        (name.size() > 12 && iequals(name.substr(0, 12), "X-Forwarded-"))) {
      return true;
    }
  }
  return false;
}

void set_host(std::vector<HttpHeader>& headers, RequestOrigin& origin, std::string_view host,
              std::optional<std::uint16_t> port) {
  std::string name(host);
  std::optional<std::uint16_t> host_port;
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    name = std::string(host.substr(0, close + 1));
    if (close + 1 < host.size() && host[close + 1] == ':')
      host_port = parse_port(host.substr(close + 2));
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    name = std::string(host.substr(0, colon));
    host_port = parse_port(host.substr(colon + 1));
  }
  if (port) host_port = port;
  const std::string value = host_port ? name + ":" + std::to_string(*host_port) : name;
  bool replaced = false;
  for (auto& header : headers) {
    if (iequals(header.name, "Host")) {
      header.value = value;
      replaced = true;
    }
  }
  if (!replaced) headers.push_back({"Host", value});
  origin.server_name = name;
  origin.server_port = host_port ? *host_port : origin.scheme == "https" ? 443 : 80;
}

}  // namespace

ProxyVerdict apply_proxy_headers(std::vector<HttpHeader>& headers, RequestOrigin& origin,
                                 const AddressSet& trusted) {
  if (!has_proxy_fields(headers)) return {};
  std::string scheme;
  std::string host;
  std::optional<Node> client;
  const auto forwarded = parse_forwarded(headers);
  if (!forwarded) return {false, "malformed Forwarded header"};
  if (!forwarded->empty()) {
    std::vector<std::optional<Node>> nodes;
    for (const auto& element : *forwarded) nodes.push_back(parse_node(element.for_node));
    if (const int index = client_index(nodes, trusted); index >= 0) {
      const auto& element = (*forwarded)[static_cast<std::size_t>(index)];
      client = nodes[static_cast<std::size_t>(index)];
      scheme = element.proto;
      host = element.host;
    }
  } else {
    std::vector<std::optional<Node>> nodes;
    for (const auto value : list_values(headers, "X-Forwarded-For"))
      nodes.push_back(parse_node(value));
    if (const int index = client_index(nodes, trusted); index >= 0)
      client = nodes[static_cast<std::size_t>(index)];
    const auto secure = secure_scheme(headers);
    if (!secure) return {false, "contradictory X-Forwarded-Proto, -Ssl and -Protocol headers"};
    scheme = *secure;
    if (const auto hosts = list_values(headers, "X-Forwarded-Host"); !hosts.empty())
      host = std::string(hosts.back());
  }
  if (client) {
    origin.client_addr = client->address;
    origin.client_port = client->port;
  }
  if (iequals(scheme, "https") || iequals(scheme, "wss"))
    origin.scheme = "https";
  else if (iequals(scheme, "http") || iequals(scheme, "ws"))
    origin.scheme = "http";
  std::optional<std::uint16_t> port;
  if (const auto ports = list_values(headers, "X-Forwarded-Port");
      !ports.empty() && forwarded->empty())
    port = parse_port(ports.back());
  if (!host.empty() && host.find('@') == std::string::npos && is_authority(host)) {
    set_host(headers, origin, host, port);
  } else if (port) {
    origin.server_port = *port;
  }
  return {};
}

void drop_underscore_fields(std::vector<HttpHeader>& fields,
                            const std::pair<std::string, std::uint16_t>& peer) {
  std::erase_if(fields, [&peer](const HttpHeader& field) {
    if (field.name.find('_') == std::string::npos) return false;
    logging::error_log().debug("dropped header field {} from {}:{}: `_` in a field name",
                               field.name, peer.first, peer.second);
    return true;
  });
}

}  // namespace hornbeam::worker
