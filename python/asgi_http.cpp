#include "python/asgi_http.hpp"

#include "common/http_text.hpp"
#include "common/log_text.hpp"
#include "common/logging.hpp"
#include "python/asgi_exchange.hpp"
#include "python/asgi_message.hpp"

#include <spdlog/logger.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

namespace hornbeam::python {
namespace {

constexpr std::size_t receive_size = 256 * 1024;  // most of a streamed body per http.request
// A bytes object lent for the socket's next read takes all that has arrived by then, up to the
// body's rest and this: a body that came quickly is one message, which the app's b"".join
// (or `body += chunk`) hands on without a copy. The object is then cut to what came, which
// gives the rest of the memory back.
constexpr std::size_t largest_lend = 1024 * 1024;
// Large lends are made while the context's lent memory stays under this; beyond it a lend is
// receive_size, so that many slow uploads waiting at once cost no more each than they did.
constexpr std::size_t large_lends_budget = 64 * 1024 * 1024;

struct HttpExchange : ExchangeBase {
  std::shared_ptr<ResponseSink> sink;
  std::shared_ptr<RequestBodySource> stream;  // null when the body came whole
  std::string body;                           // the whole body, until handed over
  std::string method, target;                 // for log lines

  bool body_delivered = false;  // the last http.request message went out
  bool start_received = false;  // http.response.start came (the head waits for the body)
  bool head_sent = false;
  bool trailers = false;       // the app announced trailers
  bool body_complete = false;  // the last body message came
  bool complete = false;       // the response ended, one way or another
  int status = 0;
  std::vector<HttpHeader> headers;
  std::vector<HttpHeader> trailer_fields;
  // A bytes object lent to the stream for the socket's next reads (RequestBodySource::lend):
  // the I/O thread may write into it until lent_back() answers. Its size counts in
  // runtime->lent_bytes while it is lent (it is cut to what came only once taken).
  PyRef lent;

  HttpExchange() = default;
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;
  ~HttpExchange() {  // GIL held (the exchange object's dealloc)
    PyRef bytes = take_lent();
    if (bytes && !stream->lent_back()) runtime->lent_bodies.keep(stream, std::move(bytes));
  }

  void keep_lent(PyRef bytes) {
    lent = std::move(bytes);
    runtime->lent_bytes += static_cast<std::size_t>(PyBytes_GET_SIZE(lent.get()));
  }
  PyRef take_lent() {
    if (lent) runtime->lent_bytes -= static_cast<std::size_t>(PyBytes_GET_SIZE(lent.get()));
    return std::move(lent);
  }
};

PyRef disconnect_message(const AsgiKeys& k) { return make_message(k, k.http_disconnect.get()); }

PyRef request_message(const AsgiKeys& k, PyRef bytes, bool more_body) {
  PyRef message = make_message(k, k.http_request.get());
  if (!message || !bytes || PyDict_SetItem(message.get(), k.body.get(), bytes.get()) != 0 ||
      PyDict_SetItem(message.get(), k.more_body.get(), more_body ? Py_True : Py_False) != 0) {
    return {};
  }
  return message;
}

PyRef bytes_of(std::string_view data) {
  return PyRef::steal(PyBytes_FromStringAndSize(data.data(), static_cast<Py_ssize_t>(data.size())));
}

// A piece of a streamed body. The last piece of a body of known length says so itself: a body
// that came in one read is one message, not one and an empty last.
PyRef body_piece_message(HttpExchange& x, PyRef bytes) {
  const auto rest = x.stream->unread_length();
  const bool last = rest && *rest == 0;
  if (last) x.body_delivered = true;
  return request_message(x.keys(), std::move(bytes), !last);
}

// A bytes object lent for the socket's next read (made to the body's rest up to largest_lend),
// when nothing of the body waits and the server reads straight into it (a Content-Length body
// over HTTP/1.1): true when lent.
bool lend_for_next_read(HttpExchange& x) {
  if (!x.stream->may_lend()) return false;
  const auto rest = x.stream->unread_length();
  if (!rest || *rest < RequestBodySource::smallest_lend) return false;
  const std::size_t most =
      x.runtime->lent_bytes + largest_lend <= large_lends_budget ? largest_lend : receive_size;
  const auto size = static_cast<std::size_t>(std::min<std::uint64_t>(*rest, most));
  PyRef bytes = PyRef::steal(PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(size)));
  if (!bytes) {
    PyErr_Clear();  // then the blocks are read as usual
    return false;
  }
  if (!x.stream->lend(PyBytes_AS_STRING(bytes.get()), size)) return false;
  x.keep_lent(std::move(bytes));
  return true;
}

// What receive() gives now; null without an exception when it must wait.
PyRef next_receive(HttpExchange& x) {
  const AsgiKeys& k = x.keys();
  if (!x.body_delivered) {
    if (!x.stream) {
      x.body_delivered = true;
      PyRef message = request_message(k, bytes_of(x.body), false);
      std::string().swap(x.body);
      return message;
    }
    if (x.lent) {  // the socket's next read went into a bytes object of ours
      const auto lent_back = x.stream->lent_back();
      if (!lent_back) return {};  // still being read into
      PyRef lent = x.take_lent();
      if (*lent_back > 0) {
        PyObject* bytes = lent.release();
        if (_PyBytes_Resize(&bytes, static_cast<Py_ssize_t>(*lent_back)) != 0) {
          PyErr_Clear();  // no memory even to shrink: the body cannot be handed on
          x.body_delivered = true;
          return disconnect_message(k);
        }
        return body_piece_message(x, PyRef::steal(bytes));
      }
    }
    // The socket's next read goes into a bytes object of ours when nothing has arrived before
    // it; what has arrived goes into a bytes object of its size, from the blocks it came in.
    if (lend_for_next_read(x)) return {};
    std::optional<std::size_t> available;
    PyRef bytes;
    try {
      available = x.stream->try_available(receive_size);
      if (!available) return {};
      bytes = bytes_of({});
      if (*available > 0) {
        bytes =
            PyRef::steal(PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(*available)));
        if (!bytes) return {};
        x.stream->read_into(PyBytes_AS_STRING(bytes.get()), *available);
      }
    } catch (const std::exception&) {
      x.body_delivered = true;  // the client left, or the body broke max_body_size (then 413)
      return disconnect_message(k);
    }
    if (*available > 0) return body_piece_message(x, std::move(bytes));
    x.body_delivered = true;
    return request_message(k, std::move(bytes), false);
  }
  if (x.complete || x.sink->client_gone()) return disconnect_message(k);
  x.sink->watch_for_disconnect();  // what this receive() now waits for
  return {};
}

void send_head(HttpExchange& x) {
  if (x.head_sent) return;
  x.head_sent = true;
  x.sink->start(std::to_string(x.status) + " " + std::string(reason_phrase(x.status)),
                std::move(x.headers));
}

// The response ended: a receive() waiting for the end learns of it.
void mark_complete(HttpExchange& x) {
  x.complete = true;
  deliver_to_waiters(x);  // the body's rest first, if any waited unread; then http.disconnect
}

bool has_room_or_notify(HttpExchange& x) { return x.sink->has_room_or_notify(); }

void abandon(HttpExchange& x) {
  if (!x.complete) x.sink->abort();
}

PyObject* client_gone_error() {
  PyErr_SetString(PyExc_OSError, "the client disconnected");
  return nullptr;
}

PyObject* send_start(HttpExchange& x, PyObject* message) {
  const AsgiKeys& k = x.keys();
  if (x.start_received) {
    PyErr_SetString(PyExc_RuntimeError, "http.response.start sent twice");
    return nullptr;
  }
  long status = 0;
  if (!message_int(message, k.status.get(), -1, status) ||
      !message_headers(message, k.headers.get(), x.headers) ||
      !message_flag(message, k.trailers.get(), x.trailers)) {
    return nullptr;
  }
  if (status < 200 || status > 999) {
    PyErr_Format(PyExc_ValueError, "http.response.start needs a 'status' from 200 to 999, not %ld",
                 status);
    return nullptr;
  }
  x.status = static_cast<int>(status);
  x.start_received = true;
  return x.ready();
}

bool check_body_allowed(HttpExchange& x, const char* what) {
  if (!x.start_received) {
    PyErr_Format(PyExc_RuntimeError, "%s sent before http.response.start", what);
    return false;
  }
  if (x.body_complete) {
    PyErr_Format(PyExc_RuntimeError, "%s sent after the response body was complete", what);
    return false;
  }
  return true;
}

PyObject* send_body(HttpExchange& x, PyObject* message) {
  const AsgiKeys& k = x.keys();
  if (!check_body_allowed(x, "http.response.body")) return nullptr;
  if (x.sink->client_gone()) return client_gone_error();
  PyRef owner;
  std::string scratch;
  std::string_view body;
  bool more_body = false;
  if (!message_bytes_view(message, k.body.get(), owner, scratch, body) ||
      !message_flag(message, k.more_body.get(), more_body)) {
    return nullptr;
  }
  send_head(x);
  if (!x.sink->write_nowait(body)) return client_gone_error();
  if (!more_body) {
    x.body_complete = true;
    if (!x.trailers) {
      x.sink->finish();
      mark_complete(x);
    }
  } else if (!x.sink->has_room_or_notify()) {
    return x.wait_in(x.send_waiter);  // the client is slow: wait until it takes some
  }
  return x.ready();
}

PyObject* send_trailers(HttpExchange& x, PyObject* message) {
  const AsgiKeys& k = x.keys();
  if (!x.trailers) {
    PyErr_SetString(PyExc_RuntimeError,
                    "http.response.trailers sent without 'trailers': True in http.response.start");
    return nullptr;
  }
  if (!x.body_complete || x.complete) {
    PyErr_SetString(PyExc_RuntimeError,
                    x.complete ? "http.response.trailers sent after the last trailers"
                               : "http.response.trailers sent before the end of the body");
    return nullptr;
  }
  std::vector<HttpHeader> fields;
  bool more_trailers = false;
  if (!message_headers(message, k.headers.get(), fields) ||
      !message_flag(message, k.more_trailers.get(), more_trailers)) {
    return nullptr;
  }
  std::move(fields.begin(), fields.end(), std::back_inserter(x.trailer_fields));
  if (!more_trailers) {
    x.sink->finish_with_trailers(x.trailer_fields);
    mark_complete(x);
  }
  return x.ready();
}

// The pathsend extension: the file goes out with sendfile(2) from the I/O thread.
PyObject* send_path(HttpExchange& x, PyObject* message) {
  const AsgiKeys& k = x.keys();
  if (!check_body_allowed(x, "http.response.pathsend")) return nullptr;
  if (x.sink->client_gone()) return client_gone_error();
  std::string path;
  if (!message_str(message, k.path.get(), path)) return nullptr;
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info {};
  if (!file || ::fstat(file.get(), &info) != 0)
    return PyErr_SetFromErrnoWithFilename(PyExc_OSError, path.c_str());
  if (!S_ISREG(info.st_mode)) {
    PyErr_Format(PyExc_ValueError, "http.response.pathsend needs a regular file, not %s",
                 path.c_str());
    return nullptr;
  }
  const auto length = static_cast<std::uint64_t>(info.st_size);
  if (std::none_of(x.headers.begin(), x.headers.end(), [](const HttpHeader& header) {
        return iequals(header.name, "Content-Length");
      })) {
    x.headers.push_back({"Content-Length", std::to_string(length)});
  }
  send_head(x);
  if (!x.sink->send_file_nowait(std::move(file), 0, length)) return client_gone_error();
  x.body_complete = true;
  x.sink->finish();
  mark_complete(x);
  return x.ready();
}

PyObject* exchange_send(PyObject* self, PyObject* message) {
  HttpExchange& x = exchange_of<HttpExchange>(self);
  const AsgiKeys& k = x.keys();
  PyRef type;
  if (!message_type(message, k.type.get(), type)) return nullptr;
  if (is_type(type.get(), k.http_response_body)) return send_body(x, message);
  if (is_type(type.get(), k.http_response_start)) return send_start(x, message);
  if (is_type(type.get(), k.http_response_trailers)) return send_trailers(x, message);
  if (is_type(type.get(), k.http_response_pathsend)) return send_path(x, message);
  PyErr_Format(PyExc_RuntimeError, "unexpected ASGI message type %R in an http scope", type.get());
  return nullptr;
}

// The I/O side refused the request's body (malformed, or not sent in time): it answered 400 or
// 408 (or cut the response) and logged why. What the app did after its receive() got
// http.disconnect is not the app's error.
bool body_refused(const HttpExchange& x) { return x.stream && x.stream->refused(); }

// The app's coroutine returned.
PyObject* exchange_app_returned(PyObject* self, PyObject*) {
  HttpExchange& x = exchange_of<HttpExchange>(self);
  if (x.runtime->request_done) x.runtime->request_done();
  if (x.complete) Py_RETURN_NONE;
  if (body_refused(x)) {
    mark_complete(x);
    Py_RETURN_NONE;
  }
  if (x.sink->client_gone()) {
    x.sink->abort();
  } else if (!x.head_sent) {
    logging::error_log().error("error handling {} {}: the ASGI app returned without {}", x.method,
                               logging::escape_for_log(x.target),
                               x.start_received ? "completing its response" : "sending a response");
    x.sink->fail(500);
  } else {
    logging::error_log().error(
        "error handling {} {}: the ASGI app returned before the end of its response body; "
        "the connection was cut",
        x.method, logging::escape_for_log(x.target));
    x.sink->abort();
  }
  mark_complete(x);
  Py_RETURN_NONE;
}

// The app raised; `text` is its formatted traceback, None when its task was cancelled (the
// worker is stopping).
PyObject* exchange_app_failed(PyObject* self, PyObject* text) {
  HttpExchange& x = exchange_of<HttpExchange>(self);
  if (x.runtime->request_done) x.runtime->request_done();
  if (text == Py_None) {
    logging::error_log().info("{} {}: cancelled, the worker is stopping", x.method,
                              logging::escape_for_log(x.target));
    if (!x.complete) x.sink->abort();
    mark_complete(x);
    Py_RETURN_NONE;
  }
  if (body_refused(x)) {
    mark_complete(x);
    Py_RETURN_NONE;
  }
  const std::string traceback = traceback_text(text);
  if (x.sink->client_gone()) {
    logging::error_log().info("{} {}: the client left and the ASGI app raised:\n{}", x.method,
                              logging::escape_for_log(x.target), traceback);
    x.sink->abort();
  } else {
    logging::error_log().error("error handling {} {}:\n{}", x.method,
                               logging::escape_for_log(x.target), traceback);
    if (!x.complete) {
      if (x.head_sent)
        x.sink->abort();
      else
        x.sink->fail(500);
    }
  }
  mark_complete(x);
  Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"receive", exchange_receive<HttpExchange>, METH_NOARGS,
     "ASGI receive(): the next http.request or http.disconnect."},
    {"send", exchange_send, METH_O, "ASGI send(message)."},
    {"app_returned", exchange_app_returned, METH_NOARGS, "The app's coroutine returned."},
    {"app_failed", exchange_app_failed, METH_O, "The app raised (its formatted traceback)."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

PyRef make_http_exchange_type() {
  PyType_Slot slots[5];
  PyType_Spec spec = exchange_spec<HttpExchange>("hornbeam.HttpExchange", methods, slots);
  return PyRef::steal(PyType_FromSpec(&spec));
}

PyRef make_http_exchange(const std::shared_ptr<AsgiRuntime>& runtime, HttpRequest& request,
                         std::shared_ptr<ResponseSink> sink) {
  runtime->lent_bodies.release_returned();
  auto* object = new_exchange<HttpExchange>(runtime, runtime->http_exchange_type.get());
  if (!object) return {};
  HttpExchange* x = object->exchange;
  x->sink = std::move(sink);
  x->stream = request.body_stream;
  if (!x->stream) x->body = std::move(request.body);
  x->method = request.method;
  x->target = request.target;
  const auto waker = x->waker;
  x->sink->set_waker([waker] { waker->wake(); });
  if (x->stream) x->stream->set_waker([waker] { waker->wake(); });
  PyObject_GC_Track(object);
  return PyRef::steal(reinterpret_cast<PyObject*>(object));
}

}  // namespace hornbeam::python
