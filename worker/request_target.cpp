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

void split_target(std::string_view target, bool connect, HttpRequest& request) {
  if (target == "*" || connect) {
    request.path.assign(target);  // asterisk-form and authority-form: no path to speak of
    return;
  }
  bool root_only = false;  // absolute-form without a path: the path is "/"
  if (!target.starts_with('/')) {
    // absolute-form ("http://host/path?q"): the path starts after the authority.
    const auto authority = target.find("://") + 3;
    const auto path = target.find_first_of("/?#", authority);
    target = path == std::string_view::npos ? std::string_view() : target.substr(path);
    root_only = target.empty() || target.front() != '/';
  }
  target = target.substr(0, target.find('#'));
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  request.path.assign(root_only ? std::string_view("/") : path);
  if (question != std::string_view::npos) request.query.assign(target.substr(question + 1));
}

}  // namespace hornbeam::worker
