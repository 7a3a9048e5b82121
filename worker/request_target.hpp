#pragma once

// From the parsed request line and fields to what the adapters see.

#include "common/http_exchange.hpp"

#include <string_view>

namespace hornbeam::worker {

// Sets request.path (still percent-encoded) and request.query from the target, whatever its
// form (RFC 9112 §3.2): origin-form, absolute-form, `*` and CONNECT's authority. The fragment
// is never part of either.
void split_target(std::string_view target, bool connect, HttpRequest& request);

// The path split_target gives, as a view into `target` (or a static "/").
std::string_view raw_path(std::string_view target, bool connect);

// Trailer fields that would change framing, routing or authentication after the fact.
bool is_forbidden_trailer(std::string_view name);

}  // namespace hornbeam::worker
