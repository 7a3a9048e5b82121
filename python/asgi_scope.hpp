#pragma once

// ASGI connection scopes (HTTP and WebSocket spec 2.4), built from a prepared template per
// context with interned keys (GIL held).

#include "common/http_exchange.hpp"
#include "python/asgi_runtime.hpp"

namespace hornbeam::python {

enum class ScopeKind { http, websocket };

// The entries every scope of that kind shares (type, asgi, scheme, root_path, extensions).
PyRef make_scope_template(const AsgiKeys& keys, ScopeKind kind);
// The scope of one request; null with a Python exception set on failure.
PyRef build_scope(const AsgiRuntime& runtime, const HttpRequest& request, ScopeKind kind);

}  // namespace hornbeam::python
