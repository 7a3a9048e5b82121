#pragma once

// From the parsed request line and fields to what the adapters see.

#include "common/http_exchange.hpp"

#include <string_view>
#include <vector>

namespace hornbeam::worker {

// Sets request.path (still percent-encoded) and request.query from the target, whatever its
// form (RFC 9112 §3.2): origin-form, absolute-form, `*` and CONNECT's authority. The fragment
// is never part of either.
void split_target(std::string_view target, bool connect, HttpRequest& request);

// The path split_target gives, as a view into `target` (or a static "/").
std::string_view raw_path(std::string_view target, bool connect);

// An absolute-form target's host[:port] (without any userinfo), or empty for the other forms.
// RFC 9112 §3.2.2: the server then ignores the Host field and uses this instead.
std::string_view absolute_form_authority(std::string_view target, bool connect);

// Makes `authority` the request's Host, replacing the one the client sent (or adding one).
void use_as_host(std::vector<HttpHeader>& fields, std::string_view authority);

// Trailer fields that would change framing, routing or authentication after the fact.
bool is_forbidden_trailer(std::string_view name);

}  // namespace hornbeam::worker
