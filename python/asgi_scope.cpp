#include "python/asgi_scope.hpp"

#include "common/http_text.hpp"

#include <algorithm>

namespace hornbeam::python {
namespace {

PyRef bytes_of(std::string_view text) {
  return PyRef::steal(PyBytes_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size())));
}

// (host, port), or None for a unix socket (no address).
PyRef address_pair(const std::string& host, std::uint16_t port) {
  if (host.empty()) return PyRef::borrow(Py_None);
  PyRef text = PyRef::steal(
      PyUnicode_DecodeLatin1(host.data(), static_cast<Py_ssize_t>(host.size()), nullptr));
  PyRef number = PyRef::steal(PyLong_FromUnsignedLong(port));
  if (!text || !number) return {};
  return PyRef::steal(PyTuple_Pack(2, text.get(), number.get()));
}

// Field names lowercased, values as sent, in order, repeats kept.
PyRef header_list(const std::vector<HttpHeader>& headers) {
  PyRef list = PyRef::steal(PyList_New(static_cast<Py_ssize_t>(headers.size())));
  if (!list) return {};
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const std::string& sent = headers[i].name;
    PyRef name =
        PyRef::steal(PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(sent.size())));
    if (!name) return {};
    std::transform(sent.begin(), sent.end(), PyBytes_AS_STRING(name.get()), ascii_lower);
    PyRef value = bytes_of(headers[i].value);
    if (!value) return {};
    PyObject* pair = PyTuple_Pack(2, name.get(), value.get());
    if (!pair) return {};
    PyList_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), pair);  // steals
  }
  return list;
}

// Sec-WebSocket-Protocol offers, in order, from every such field.
PyRef subprotocol_list(const std::vector<HttpHeader>& headers) {
  PyRef list = PyRef::steal(PyList_New(0));
  if (!list) return {};
  for (const auto& header : headers) {
    if (!iequals(header.name, "Sec-WebSocket-Protocol")) continue;
    std::string_view rest = header.value;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (item.empty()) continue;
      PyRef text = PyRef::steal(
          PyUnicode_DecodeLatin1(item.data(), static_cast<Py_ssize_t>(item.size()), nullptr));
      if (!text || PyList_Append(list.get(), text.get()) != 0) return {};
    }
  }
  return list;
}

bool set(PyObject* dict, const PyRef& key, const PyRef& value) {
  return value && PyDict_SetItem(dict, key.get(), value.get()) == 0;
}

// The template's extensions plus `tls` (the ASGI TLS extension): a new dict, since the
// template's is shared by every request.
PyRef extensions_with_tls(PyObject* plain_template, const AsgiKeys& k, const TlsSession& tls) {
  PyRef extensions = PyRef::steal(PyDict_Copy(PyDict_GetItem(plain_template, k.extensions.get())));
  PyRef chain = PyRef::steal(PyList_New(0));
  if (!extensions || !chain) return {};
  if (!tls.client_cert_pem.empty()) {
    PyRef pem = PyRef::steal(PyUnicode_FromStringAndSize(
        tls.client_cert_pem.data(), static_cast<Py_ssize_t>(tls.client_cert_pem.size())));
    if (!pem || PyList_Append(chain.get(), pem.get()) != 0) return {};
  }
  const auto text_or_none = [](const std::string& text) {
    return text.empty() ? PyRef::borrow(Py_None)
                        : PyRef::steal(PyUnicode_DecodeUTF8(
                              text.data(), static_cast<Py_ssize_t>(text.size()), "replace"));
  };
  PyRef info = PyRef::steal(PyDict_New());
  const bool ok = info && PyDict_SetItemString(info.get(), "server_cert", Py_None) == 0 &&
                  PyDict_SetItemString(info.get(), "client_cert_chain", chain.get()) == 0 &&
                  PyDict_SetItemString(info.get(), "client_cert_name",
                                       text_or_none(tls.client_subject).get()) == 0 &&
                  PyDict_SetItemString(info.get(), "client_cert_error",
                                       tls.client_verify.starts_with("FAILED")
                                           ? text_or_none(tls.client_verify).get()
                                           : Py_None) == 0 &&
                  PyDict_SetItemString(info.get(), "tls_version",
                                       PyRef::steal(PyLong_FromLong(tls.version)).get()) == 0 &&
                  PyDict_SetItemString(info.get(), "cipher_suite",
                                       PyRef::steal(PyLong_FromLong(tls.cipher_id)).get()) == 0 &&
                  PyDict_SetItemString(extensions.get(), "tls", info.get()) == 0;
  return ok ? extensions : PyRef();
}

// A new scope template for a TLS connection: the plain one with scheme https (wss) and the
// `tls` extension.
PyRef make_tls_template(PyObject* plain_template, const AsgiKeys& k, ScopeKind kind,
                        const TlsSession& tls) {
  PyRef scope = PyRef::steal(PyDict_Copy(plain_template));
  if (!scope ||
      !set(scope.get(), k.scheme, kind == ScopeKind::http ? k.scheme_https : k.scheme_wss) ||
      !set(scope.get(), k.extensions, extensions_with_tls(plain_template, k, tls))) {
    return {};
  }
  return scope;
}

// A copy of the template for this request's connection. A TLS connection's without a client
// certificate is cached (ScopeApp::TlsTemplate): making its two dicts and a dozen objects per
// request cost more than the rest of an HTTPS hello world's scope.
PyRef copy_of_template(ScopeApp& app, const AsgiKeys& k, const HttpRequest& request,
                       ScopeKind kind) {
  PyObject* plain = (kind == ScopeKind::http ? app.template_http : app.template_websocket).get();
  if (!request.tls) return PyRef::steal(PyDict_Copy(plain));
  const TlsSession& tls = *request.tls;
  if (!tls.client_cert_pem.empty()) return make_tls_template(plain, k, kind, tls);  // its own
  auto& cached = kind == ScopeKind::http ? app.tls_http : app.tls_websocket;
  if (!cached.scope || cached.version != tls.version || cached.cipher_id != tls.cipher_id) {
    PyRef scope = make_tls_template(plain, k, kind, tls);
    if (!scope) return {};
    cached = {tls.version, tls.cipher_id, std::move(scope)};
  }
  return PyRef::steal(PyDict_Copy(cached.scope.get()));
}

PyRef server_pair(ScopeApp& app, const HttpRequest& request) {
  auto& kept = app.server;
  if (!kept.pair || kept.port != request.server_port || kept.host != request.server_name) {
    PyRef pair = address_pair(request.server_name, request.server_port);
    if (!pair) return {};
    kept = {request.server_name, request.server_port, std::move(pair)};
  }
  return kept.pair;
}

}  // namespace

// Every key build_scope sets is in the template already (with None), so a request's scope is
// a copy of a table of the right size whose values are replaced: no insertion, no resize.
PyRef make_scope_template(const AsgiKeys& k, ScopeKind kind, const std::string& root_path) {
  PyRef scope = PyRef::steal(PyDict_New());
  PyRef asgi = PyRef::steal(Py_BuildValue("{s:s,s:s}", "version", "3.0", "spec_version", "2.4"));
  PyRef extensions = kind == ScopeKind::http
                         ? PyRef::steal(Py_BuildValue("{s:{},s:{}}", "http.response.trailers",
                                                      "http.response.pathsend"))
                         : PyRef::steal(Py_BuildValue("{s:{}}", "websocket.http.response"));
  const PyRef none = PyRef::borrow(Py_None);
  if (!scope || !set(scope.get(), k.type, kind == ScopeKind::http ? k.http : k.websocket) ||
      !set(scope.get(), k.asgi, asgi) || !set(scope.get(), k.http_version, none) ||
      (kind == ScopeKind::http && !set(scope.get(), k.method, none)) ||
      !set(scope.get(), k.scheme, kind == ScopeKind::http ? k.scheme_http : k.scheme_ws) ||
      !set(scope.get(), k.path, none) || !set(scope.get(), k.raw_path, none) ||
      !set(scope.get(), k.query_string, none) ||
      !set(scope.get(), k.root_path,
           root_path.empty()
               ? k.empty_str
               : PyRef::steal(PyUnicode_DecodeUTF8(
                     root_path.data(), static_cast<Py_ssize_t>(root_path.size()), "replace"))) ||
      !set(scope.get(), k.headers, none) || !set(scope.get(), k.client, none) ||
      !set(scope.get(), k.server, none) ||
      (kind == ScopeKind::websocket && !set(scope.get(), k.subprotocols, none)) ||
      !set(scope.get(), k.extensions, extensions)) {
    return {};
  }
  return scope;
}

PyRef build_scope(const AsgiRuntime& runtime, ScopeApp& app, const HttpRequest& request,
                  ScopeKind kind) {
  const AsgiKeys& k = runtime.keys;
  PyRef scope = copy_of_template(app, k, request, kind);
  if (!scope) return {};
  PyObject* s = scope.get();
  // The router matched the prefix on the raw path, so the bytes to strip are its own.
  const std::string path =
      percent_decode(std::string_view(request.path).substr(app.strip_from_path));
  const bool ok =
      set(s, k.http_version,
          request.version == 10   ? k.version_1_0
          : request.version == 20 ? k.version_2
                                  : k.version_1_1) &&
      (kind == ScopeKind::websocket ||
       set(s, k.method,
           request.method == "GET" ? k.get
           : request.method == "POST"
               ? k.post
               : PyRef::steal(PyUnicode_FromStringAndSize(
                     request.method.data(), static_cast<Py_ssize_t>(request.method.size()))))) &&
      set(s, k.path,
          PyRef::steal(PyUnicode_DecodeUTF8(path.data(), static_cast<Py_ssize_t>(path.size()),
                                            "replace"))) &&
      set(s, k.raw_path, bytes_of(request.path)) &&
      set(s, k.query_string, bytes_of(request.query)) &&
      set(s, k.headers, header_list(request.headers)) &&
      set(s, k.client, address_pair(request.remote_addr, request.remote_port)) &&
      set(s, k.server, server_pair(app, request)) &&
      (kind == ScopeKind::http || set(s, k.subprotocols, subprotocol_list(request.headers))) &&
      // Not a copy (as the spec's dict would be): the state is a view on the shared store.
      (!app.lifespan_state || set(s, k.state, app.lifespan_state));
  if (!ok) return {};
  // The template's scheme is the connection's; a trusted proxy's header may say otherwise.
  const bool https = request.url_scheme == "https";
  if (https != (request.tls != nullptr) &&
      !set(s, k.scheme,
           kind == ScopeKind::http ? (https ? k.scheme_https : k.scheme_http)
                                   : (https ? k.scheme_wss : k.scheme_ws))) {
    return {};
  }
  return scope;
}

}  // namespace hornbeam::python
