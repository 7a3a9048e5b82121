#pragma once

// ASGI connection scopes (HTTP and WebSocket spec 2.4), built from a prepared template per
// context with interned keys (GIL held).

#include "common/http_exchange.hpp"
#include "python/asgi_runtime.hpp"

#include <cstdint>
#include <string>

namespace hornbeam::python {

enum class ScopeKind { http, websocket };

// What a scope takes from the app it is for, one per app the context serves.
struct ScopeApp {
  PyRef template_http;       // make_scope_template(.., http, root_path)
  PyRef template_websocket;  // make_scope_template(.., websocket, root_path)
  PyRef lifespan_state;      // glue.SharedState; null when lifespan is off
  // Bytes of the raw path (the mount's prefix) left out of `path`, for frameworks that expect
  // `path` without the root_path (glue.path_without_root_path); 0 otherwise.
  std::size_t strip_from_path = 0;
  // Per kind, the template of TLS connections without a client certificate (scheme https or
  // wss, the `tls` extension), made for the last protocol version and cipher seen: nearly
  // every connection has the same.
  struct TlsTemplate {
    int version = 0;
    int cipher_id = 0;
    PyRef scope;
  };
  TlsTemplate tls_http, tls_websocket;
  // The `server` pair of the last request, kept: a worker listens on one address or a few, so
  // it is nearly always the same (a tuple is immutable, scopes may share it).
  struct ServerPair {
    std::string host;
    std::uint16_t port = 0;
    PyRef pair;
  };
  ServerPair server;
};

// The entries every scope of that kind shares (type, asgi, scheme, root_path, extensions).
PyRef make_scope_template(const AsgiKeys& keys, ScopeKind kind, const std::string& root_path);
// The scope of one request; null with a Python exception set on failure.
PyRef build_scope(const AsgiRuntime& runtime, ScopeApp& app, const HttpRequest& request,
                  ScopeKind kind);

}  // namespace hornbeam::python
