#include "python/asgi_websocket.hpp"

#include "common/http_text.hpp"
#include "common/log_text.hpp"
#include "common/logging.hpp"
#include "python/asgi_exchange.hpp"
#include "python/asgi_message.hpp"

#include <spdlog/logger.h>

namespace hornbeam::python {
namespace {

enum class Phase {
  handshake,   // the app has not answered the handshake yet
  accepted,    // messages flow
  closed,      // the app closed it (or refused it with 403)
  responding,  // the app refuses it with its own HTTP response (websocket.http.response)
  responded,
};

struct WebSocketExchange : ExchangeBase {
  std::shared_ptr<ResponseSink> sink;  // the refusal path
  std::shared_ptr<WebSocketPeer> peer;
  std::string target;  // for log lines
  Phase phase = Phase::handshake;
  bool connect_delivered = false;
  bool disconnect_delivered = false;
  int status = 0;  // websocket.http.response.start
  std::vector<HttpHeader> headers;
};

bool set(PyObject* dict, const PyRef& key, PyObject* value) {
  return value && PyDict_SetItem(dict, key.get(), value) == 0;
}

PyRef disconnect_message(const AsgiKeys& k, const WebSocketClose& why) {
  PyRef message = make_message(k, k.websocket_disconnect.get());
  PyRef code = PyRef::steal(PyLong_FromLong(why.code));
  PyRef reason = PyRef::steal(PyUnicode_DecodeUTF8(
      why.reason.data(), static_cast<Py_ssize_t>(why.reason.size()), "replace"));
  if (!message || !set(message.get(), k.code, code.get()) ||
      !set(message.get(), k.reason, reason.get()))
    return {};
  return message;
}

// What receive() gives now; null without an exception when it must wait.
PyRef next_receive(WebSocketExchange& x) {
  const AsgiKeys& k = x.keys();
  if (!x.connect_delivered) {
    x.connect_delivered = true;
    return make_message(k, k.websocket_connect.get());
  }
  if (x.phase == Phase::handshake) {
    if (!x.sink->client_gone()) return {};
    x.disconnect_delivered = true;
    return disconnect_message(k, {1006, ""});
  }
  if (x.phase == Phase::responding || x.phase == Phase::responded)
    return disconnect_message(k, {1006, ""});
  if (auto message = x.peer->receive()) {
    PyRef result = make_message(k, k.websocket_receive.get());
    if (!result) return {};
    if (message->binary) {
      PyRef bytes = PyRef::steal(PyBytes_FromStringAndSize(
          message->data.data(), static_cast<Py_ssize_t>(message->data.size())));
      if (!set(result.get(), k.bytes, bytes.get())) return {};
    } else {
      PyRef text = PyRef::steal(PyUnicode_DecodeUTF8(
          message->data.data(), static_cast<Py_ssize_t>(message->data.size()), "replace"));
      if (!set(result.get(), k.text, text.get())) return {};
    }
    return result;
  }
  if (auto why = x.peer->ended()) {
    x.disconnect_delivered = true;
    return disconnect_message(k, *why);
  }
  return {};
}

bool has_room_or_notify(WebSocketExchange& x) { return x.peer->has_room_or_notify(); }

PyObject* runtime_error(const char* text) {
  PyErr_SetString(PyExc_RuntimeError, text);
  return nullptr;
}

PyObject* send_accept(WebSocketExchange& x, PyObject* message) {
  const AsgiKeys& k = x.keys();
  if (x.phase != Phase::handshake)
    return runtime_error("websocket.accept sent after the handshake was answered");
  std::string subprotocol;
  std::vector<HttpHeader> headers;
  if (!message_str(message, k.subprotocol.get(), subprotocol) ||
      !message_headers(message, k.headers.get(), headers)) {
    return nullptr;
  }
  x.phase = Phase::accepted;
  x.peer->accept(std::move(subprotocol), std::move(headers));
  return x.ready();
}

PyObject* send_message(WebSocketExchange& x, PyObject* message) {
  const AsgiKeys& k = x.keys();
  if (x.phase == Phase::handshake)
    return runtime_error("websocket.send sent before websocket.accept");
  if (x.phase != Phase::accepted) return runtime_error("websocket.send sent after websocket.close");
  PyRef bytes = message_get(message, k.bytes.get());
  PyRef text = message_get(message, k.text.get());
  if (PyErr_Occurred()) return nullptr;
  WebSocketMessage out;
  if (bytes && bytes.get() != Py_None) {
    out.binary = true;
    if (!message_bytes(message, k.bytes.get(), out.data)) return nullptr;
  } else if (text && text.get() != Py_None) {
    if (!message_str(message, k.text.get(), out.data)) return nullptr;
  } else {
    PyErr_SetString(PyExc_ValueError, "websocket.send needs 'bytes' or 'text'");
    return nullptr;
  }
  if (!x.peer->send(std::move(out))) {
    PyErr_SetString(PyExc_OSError, "the websocket is closed");
    return nullptr;
  }
  if (!x.peer->has_room_or_notify()) return x.wait_in(x.send_waiter);
  return x.ready();
}

PyObject* send_close(WebSocketExchange& x, PyObject* message) {
  const AsgiKeys& k = x.keys();
  long code = 1000;
  std::string reason;
  if (!message_int(message, k.code.get(), 1000, code) ||
      !message_str(message, k.reason.get(), reason))
    return nullptr;
  if (x.phase == Phase::handshake) {
    x.phase = Phase::closed;
    x.sink->fail(403);  // refused before the handshake: HTTP 403
  } else if (x.phase == Phase::accepted) {
    x.phase = Phase::closed;
    x.peer->close({static_cast<int>(code), std::move(reason)});
  }
  return x.ready();  // closing twice, or after the client left, changes nothing
}

PyObject* send_response_start(WebSocketExchange& x, PyObject* message) {
  const AsgiKeys& k = x.keys();
  if (x.phase != Phase::handshake)
    return runtime_error("websocket.http.response.start sent after the handshake was answered");
  long status = 0;
  if (!message_int(message, k.status.get(), -1, status) ||
      !message_headers(message, k.headers.get(), x.headers)) {
    return nullptr;
  }
  if (status < 200 || status > 999) {
    PyErr_Format(PyExc_ValueError,
                 "websocket.http.response.start needs a 'status' from 200 to 999, not %ld", status);
    return nullptr;
  }
  x.status = static_cast<int>(status);
  x.phase = Phase::responding;
  x.sink->start(std::to_string(status) + " " + std::string(reason_phrase(x.status)),
                std::move(x.headers));
  return x.ready();
}

PyObject* send_response_body(WebSocketExchange& x, PyObject* message) {
  const AsgiKeys& k = x.keys();
  if (x.phase != Phase::responding)
    return runtime_error("websocket.http.response.body sent outside a started response");
  std::string body;
  bool more_body = false;
  if (!message_bytes(message, k.body.get(), body) ||
      !message_flag(message, k.more_body.get(), more_body))
    return nullptr;
  if (!x.sink->write_nowait(body)) {
    PyErr_SetString(PyExc_OSError, "the client disconnected");
    return nullptr;
  }
  if (!more_body) {
    x.phase = Phase::responded;
    x.sink->finish();
  }
  return x.ready();
}

PyObject* exchange_send(PyObject* self, PyObject* message) {
  WebSocketExchange& x = exchange_of<WebSocketExchange>(self);
  const AsgiKeys& k = x.keys();
  PyRef type;
  if (!message_type(message, k.type.get(), type)) return nullptr;
  if (is_type(type.get(), k.websocket_send)) return send_message(x, message);
  if (is_type(type.get(), k.websocket_accept)) return send_accept(x, message);
  if (is_type(type.get(), k.websocket_close)) return send_close(x, message);
  if (is_type(type.get(), k.websocket_http_response_start)) return send_response_start(x, message);
  if (is_type(type.get(), k.websocket_http_response_body)) return send_response_body(x, message);
  PyErr_Format(PyExc_RuntimeError, "unexpected ASGI message type %R in a websocket scope",
               type.get());
  return nullptr;
}

// Whatever the app left open ends now: a handshake never answered is refused with
// `refusal`, an open connection closes with `code`, a half-sent refusal is cut.
void end_connection(WebSocketExchange& x, int refusal, int code) {
  switch (x.phase) {
    case Phase::handshake: x.sink->fail(refusal); break;
    case Phase::accepted: x.peer->close({code, ""}); break;
    case Phase::responding: x.sink->abort(); break;
    default: break;
  }
  x.phase = x.phase == Phase::responding ? Phase::responded : Phase::closed;
}

void abandon(WebSocketExchange& x) { end_connection(x, 500, 1011); }

PyObject* exchange_app_returned(PyObject* self, PyObject*) {
  WebSocketExchange& x = exchange_of<WebSocketExchange>(self);
  if (x.runtime->request_done) x.runtime->request_done();
  end_connection(x, 403, 1000);
  Py_RETURN_NONE;
}

PyObject* exchange_app_failed(PyObject* self, PyObject* text) {
  WebSocketExchange& x = exchange_of<WebSocketExchange>(self);
  if (x.runtime->request_done) x.runtime->request_done();
  if (text == Py_None) {
    end_connection(x, 503, 1001);  // cancelled: the worker is stopping
    Py_RETURN_NONE;
  }
  logging::error_log().error("error handling websocket {}:\n{}", logging::escape_for_log(x.target),
                             traceback_text(text));
  end_connection(x, 500, 1011);
  Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"receive", exchange_receive<WebSocketExchange>, METH_NOARGS,
     "ASGI receive(): websocket.connect, .receive or .disconnect."},
    {"send", exchange_send, METH_O, "ASGI send(message)."},
    {"app_returned", exchange_app_returned, METH_NOARGS, "The app's coroutine returned."},
    {"app_failed", exchange_app_failed, METH_O, "The app raised (its formatted traceback)."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

PyRef make_websocket_exchange_type() {
  PyType_Slot slots[5];
  PyType_Spec spec = exchange_spec<WebSocketExchange>("hornbeam.WebSocketExchange", methods, slots);
  return PyRef::steal(PyType_FromSpec(&spec));
}

PyRef make_websocket_exchange(const std::shared_ptr<AsgiRuntime>& runtime,
                              const HttpRequest& request, std::shared_ptr<ResponseSink> sink,
                              std::shared_ptr<WebSocketPeer> peer) {
  auto* object = new_exchange<WebSocketExchange>(runtime, runtime->websocket_exchange_type.get());
  if (!object) return {};
  WebSocketExchange* x = object->exchange;
  x->sink = std::move(sink);
  x->peer = std::move(peer);
  x->target = request.target;
  const auto waker = x->waker;
  x->sink->set_waker([waker] { waker->wake(); });
  x->peer->set_waker([waker] { waker->wake(); });
  PyObject_GC_Track(object);
  return PyRef::steal(reinterpret_cast<PyObject*>(object));
}

}  // namespace hornbeam::python
