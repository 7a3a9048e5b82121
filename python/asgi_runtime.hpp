#pragma once

// What every ASGI exchange of one context shares: the loop, the prepared types, interned
// strings, and the way back onto the loop from the I/O thread. Made and destroyed with the
// GIL held; exchanges keep it alive (an app may hold on to receive/send past its context).

#include "python/event_inbox.hpp"
#include "python/lent_bodies.hpp"
#include "python/py_ref.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace hornbeam::python {

struct AsgiKeys {
  AsgiKeys();
  // message and scope keys
  PyRef type, body, more_body, status, headers, trailers, more_trailers, path, bytes, text, code,
      reason, subprotocol, subprotocols;
  // message types
  PyRef http_request, http_disconnect, http_response_start, http_response_body,
      http_response_trailers, http_response_pathsend, websocket_connect, websocket_accept,
      websocket_receive, websocket_send, websocket_close, websocket_disconnect,
      websocket_http_response_start, websocket_http_response_body;
  // scope
  PyRef asgi, http_version, method, scheme, raw_path, query_string, root_path, client, server,
      state, extensions;
  PyRef http, websocket, version_1_1, version_1_0, version_2, get, post, scheme_http, scheme_ws,
      scheme_https, scheme_wss, empty_str;
  // methods called on futures
  PyRef set_result, done, cancelled, result;
  // what the exchange runner calls (exchange_runner.cpp)
  PyRef receive, send, app_returned, app_failed, throw_, close;
};

struct AsgiRuntime {
  PyRef loop;
  PyRef create_future;  // loop.create_future
  PyRef create_task;    // loop.create_task
  // What create_task does, made cheaper (see AsgiContext::start_task): asyncio.Task, the
  // loop's get_task_factory, and the Task's keywords {"loop": loop, "name": "hornbeam
  // request"}.
  PyRef task_type, get_task_factory, task_keywords;
  PyRef exchange_runner_type;  // what each request's Task runs (exchange_runner.hpp)
  PyRef running;               // set of exchanges whose app still runs (asyncio keeps tasks weakly)
  PyRef cancelled_error;       // asyncio.CancelledError
  PyRef format_exception;      // traceback.format_exception
  PyRef ready_type;
  PyRef receive_type;  // what a receive() that waits returns (receive_awaitable.hpp)
  PyRef http_exchange_type;
  PyRef websocket_exchange_type;
  AsgiKeys keys;
  std::shared_ptr<EventInbox> inbox;
  std::function<void()> request_done;  // an exchange's app finished (counts requests)
  // Bytes of the objects the context's waiting receive() calls have lent for socket reads
  // (asgi_http.cpp: large lends only while this stays small).
  std::size_t lent_bytes = 0;
  LentBodies lent_bodies;  // declared last: destroyed first, while the types above still exist
};

// The way an exchange is woken from the I/O thread: wake() (any thread) queues one call of
// `poke` on the loop, however many wakes come before it runs.
class LoopWaker : public std::enable_shared_from_this<LoopWaker> {
 public:
  LoopWaker(std::shared_ptr<EventInbox> inbox, void (*poke)(PyObject*))
      : inbox_(std::move(inbox)), poke_(poke) {}

  void wake();
  // Loop thread: which object to poke (cleared when it dies).
  void attach(PyObject* exchange) { exchange_ = exchange; }
  void detach() { exchange_ = nullptr; }

 private:
  std::shared_ptr<EventInbox> inbox_;
  void (*poke_)(PyObject*);
  std::atomic<bool> queued_{false};
  PyObject* exchange_ = nullptr;  // borrowed; loop thread only
};

// A message dict {"type": type} (GIL held).
PyRef make_message(const AsgiKeys& keys, PyObject* type);
// Resolves `future` with `value` unless it is done (cancelled) already; false with an
// exception set if that failed.
bool resolve_future(const AsgiKeys& keys, PyObject* future, PyObject* value);

}  // namespace hornbeam::python
