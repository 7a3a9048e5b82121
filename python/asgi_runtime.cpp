#include "python/asgi_runtime.hpp"

namespace hornbeam::python {
namespace {

PyRef intern(const char* text) { return PyRef::steal(PyUnicode_InternFromString(text)); }

}  // namespace

AsgiKeys::AsgiKeys()
    : type(intern("type")),
      body(intern("body")),
      more_body(intern("more_body")),
      status(intern("status")),
      headers(intern("headers")),
      trailers(intern("trailers")),
      more_trailers(intern("more_trailers")),
      path(intern("path")),
      bytes(intern("bytes")),
      text(intern("text")),
      code(intern("code")),
      reason(intern("reason")),
      subprotocol(intern("subprotocol")),
      subprotocols(intern("subprotocols")),
      http_request(intern("http.request")),
      http_disconnect(intern("http.disconnect")),
      http_response_start(intern("http.response.start")),
      http_response_body(intern("http.response.body")),
      http_response_trailers(intern("http.response.trailers")),
      http_response_pathsend(intern("http.response.pathsend")),
      websocket_connect(intern("websocket.connect")),
      websocket_accept(intern("websocket.accept")),
      websocket_receive(intern("websocket.receive")),
      websocket_send(intern("websocket.send")),
      websocket_close(intern("websocket.close")),
      websocket_disconnect(intern("websocket.disconnect")),
      websocket_http_response_start(intern("websocket.http.response.start")),
      websocket_http_response_body(intern("websocket.http.response.body")),
      asgi(intern("asgi")),
      http_version(intern("http_version")),
      method(intern("method")),
      scheme(intern("scheme")),
      raw_path(intern("raw_path")),
      query_string(intern("query_string")),
      root_path(intern("root_path")),
      client(intern("client")),
      server(intern("server")),
      state(intern("state")),
      extensions(intern("extensions")),
      http(intern("http")),
      websocket(intern("websocket")),
      version_1_1(intern("1.1")),
      version_1_0(intern("1.0")),
      version_2(intern("2")),
      get(intern("GET")),
      post(intern("POST")),
      scheme_http(intern("http")),
      scheme_ws(intern("ws")),
      scheme_https(intern("https")),
      scheme_wss(intern("wss")),
      empty_str(intern("")),
      set_result(intern("set_result")),
      done(intern("done")),
      cancelled(intern("cancelled")),
      result(intern("result")),
      receive(intern("receive")),
      send(intern("send")),
      app_returned(intern("app_returned")),
      app_failed(intern("app_failed")),
      throw_(intern("throw")),
      close(intern("close")) {}

void LoopWaker::wake() {
  if (queued_.exchange(true)) return;
  inbox_->post([self = shared_from_this()] {
    self->queued_ = false;
    if (!self->exchange_) return;
    PyRef keep = PyRef::borrow(self->exchange_);  // the poke may drop the last other reference
    self->poke_(keep.get());
  });
}

PyRef make_message(const AsgiKeys& keys, PyObject* type) {
  PyRef message = PyRef::steal(PyDict_New());
  if (message && PyDict_SetItem(message.get(), keys.type.get(), type) != 0) return {};
  return message;
}

bool resolve_future(const AsgiKeys& keys, PyObject* future, PyObject* value) {
  PyRef done = PyRef::steal(PyObject_CallMethodNoArgs(future, keys.done.get()));
  if (!done) return false;
  if (done.get() == Py_True) return true;
  PyRef result = PyRef::steal(
      PyObject_CallMethodOneArg(future, keys.set_result.get(), value ? value : Py_None));
  return static_cast<bool>(result);
}

}  // namespace hornbeam::python
