#include "worker/request_target.hpp"

#include "common/http_text.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace hornbeam::worker {

bool is_forbidden_trailer(std::string_view name) {
  static constexpr std::array<std::string_view, 13> forbidden = {"content-length",
                                                                 "transfer-encoding",
                                                                 "host",
                                                                 "trailer",
                                                                 "te",
                                                                 "connection",
                                                                 "keep-alive",
                                                                 "upgrade",
                                                                 "expect",
                                                                 "max-forwards",
                                                                 "authorization",
                                                                 "proxy-authorization",
                                                                 "content-encoding"};
  return std::any_of(forbidden.begin(), forbidden.end(),
                     [&](std::string_view f) { return iequals(name, f); });
}

namespace {

// The target without its fragment, and whether it had no path at all (absolute-form
// "http://host" or "http://host?q": the path is then "/").
std::string_view origin_part(std::string_view target, bool& root_only) {
  root_only = false;
  if (!target.starts_with('/')) {
    // absolute-form ("http://host/path?q"): the path starts after the authority.
    const auto authority = target.find("://") + 3;
    const auto path = target.find_first_of("/?#", authority);
    target = path == std::string_view::npos ? std::string_view() : target.substr(path);
    root_only = target.empty() || target.front() != '/';
  }
  return target.substr(0, target.find('#'));
}

}  // namespace

std::string_view raw_path(std::string_view target, bool connect) {
  if (target == "*" || connect) return target;  // asterisk-form and authority-form
  bool root_only = false;
  const auto origin = origin_part(target, root_only);
  return root_only ? std::string_view("/") : origin.substr(0, origin.find('?'));
}

std::string_view absolute_form_authority(std::string_view target, bool connect) {
  if (connect || target.starts_with('/') || target == "*") return {};
  const auto separator = target.find("://");
  if (separator == std::string_view::npos) return {};
  std::string_view authority = target.substr(separator + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  return authority;
}

void use_as_host(std::vector<HttpHeader>& fields, std::string_view authority) {
  bool replaced = false;
  for (auto& field : fields) {
    if (!iequals(field.name, "host")) continue;
    field.value.assign(authority);
    replaced = true;
  }
  if (!replaced) fields.push_back({"Host", std::string(authority)});
}

void split_target(std::string_view target, bool connect, HttpRequest& request) {
  if (target == "*" || connect) {
    request.path.assign(target);  // asterisk-form and authority-form: no path to speak of
    return;
  }
  bool root_only = false;
  const auto origin = origin_part(target, root_only);
  const auto question = origin.find('?');
  request.path.assign(root_only ? std::string_view("/") : origin.substr(0, question));
  if (question != std::string_view::npos) request.query.assign(origin.substr(question + 1));
}

}  // namespace hornbeam::worker
