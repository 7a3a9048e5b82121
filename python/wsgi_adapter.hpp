#pragma once

// PEP 3333: runs a WSGI app for one request and writes its response into a ResponseSink.
// One adapter per context; it owns the context's prepared objects (environ template,
// interned keys, the start_response type), so nothing is shared between interpreters.

#include "common/http_exchange.hpp"
#include "python/context_pool.hpp"
#include "python/py_ref.hpp"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace hornbeam::python {

struct WsgiSettings {
  bool multithread = false;   // more than one context in the worker
  bool multiprocess = false;  // more than one worker
  std::string prefix = "/";   // the app's mount point: SCRIPT_NAME
};

class WsgiAdapter final {
 public:
  // GIL held. `app` is the loaded callable.
  WsgiAdapter(PyRef app, const WsgiSettings& settings);
  ~WsgiAdapter();

  // GIL held. Every outcome ends in exactly one of sink.finish(), fail() or abort().
  void handle(HttpRequest& request, ResponseSink& sink);  // gives its fields back to `sink`

 private:
  PyRef build_environ(const HttpRequest& request);
  bool send_as_file(PyObject* result, struct WsgiResponseState& state);

  struct Keys;  // interned environ keys of this context's interpreter

  PyRef app_;
  std::string script_name_;  // "" at `/`
  PyRef environ_template_;
  // The template of TLS requests, made for the session seen last (tls_environ_template).
  struct TlsTemplate {
    std::string protocol, cipher, client_verify;
    PyRef environ;
  } tls_template_;
  PyObject* tls_environ_template(const TlsSession& tls);
  // Environ keys of the header names seen so far ("User-Agent" -> "HTTP_USER_AGENT"), as
  // sent; bounded, so that a client sending random names cannot grow it.
  std::unordered_map<std::string, PyRef> header_keys_;
  PyRef header_key(const std::string& name);
  PyRef start_response_type_;
  PyRef input_type_;
  PyRef file_wrapper_type_;
  PyRef bytes_io_;  // io.BytesIO, for wsgi.input
  PyRef close_name_ = PyRef::steal(PyUnicode_InternFromString("close"));
  std::unique_ptr<Keys> keys_;
  // The str of a request field that mostly repeats from one request to the next (the
  // server's name and port, the client's address on loopback or behind one proxy), kept
  // while it repeats instead of made again per request.
  struct LastText {
    std::string text;
    PyRef object;
    PyRef get(std::string_view value);
  };
  LastText server_name_, server_port_, remote_addr_;
};

// A WSGI context: an adapter for each WSGI app the worker serves, by mount index (null where
// the mount is an ASGI app).
class WsgiContext final : public ContextState {
 public:
  std::vector<std::unique_ptr<WsgiAdapter>> apps;

  void serve_request(HttpRequest& request, ResponseSink& sink) override {
    apps[static_cast<std::size_t>(request.mount)]->handle(request, sink);
  }
};

}  // namespace hornbeam::python
