#pragma once

// An ASGI context: an asyncio (or uvloop) event loop on the context's Python thread, running
// many requests concurrently. The I/O thread hands requests over through an EventInbox the
// loop watches with add_reader; the loop never blocks on anything but its own selector.

#include "common/http_exchange.hpp"
#include "common/websocket_exchange.hpp"
#include "python/context_pool.hpp"
#include "python/event_inbox.hpp"
#include "python/py_ref.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace hornbeam {
class WakeBatch;
}

namespace hornbeam::python {

struct AsgiRuntime;
struct ServedApp;  // an app with what its scopes and lifespan need (asgi_context.cpp)

struct AsgiSettings {
  std::string loop = "auto";                          // auto | asyncio | uvloop
  std::string lifespan = "auto";                      // auto | on | off
  std::chrono::milliseconds graceful_timeout{30000};  // bounds lifespan shutdown
  std::chrono::milliseconds tick_interval{1000};      // how often the loop proves it turns
  int index = 0;                                      // the context's number, for log lines
};

struct AsgiHooks {
  // The loop turned: at every tick and every batch of work (the arbiter's per-context
  // liveness; a loop that an app blocks stops calling it).
  std::function<void()> alive;
  std::function<void()> request_done;  // an app call ended (counts requests)
};

// The app's lifespan startup failed (startup.failed, or it raised under `lifespan: on`): the
// worker exits with the boot-failure status.
class LifespanStartupFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One ASGI app a context serves: a mount, or the app at `/`.
struct AsgiMount {
  std::string prefix = "/";
  PyRef app;  // null: the worker's app at this index is not an ASGI one
};

class AsgiContext final : public ContextState {
 public:
  // GIL held, on the context's thread: makes the loop and runs each app's lifespan startup on
  // it. `mounts` is indexed as HttpRequest::mount.
  AsgiContext(std::vector<AsgiMount> mounts, const AsgiSettings& settings, AsgiHooks hooks);
  ~AsgiContext() override;

  bool serve() override;         // runs the loop; then lifespan shutdown, and closes it
  void stop_serving() override;  // any thread

  // Any thread (the I/O thread): runs the app for this request on the loop.
  void dispatch(HttpRequest&& request, std::shared_ptr<ResponseSink> sink);
  // The same for a WebSocket handshake.
  void dispatch_websocket(HttpRequest&& request, std::shared_ptr<ResponseSink> sink,
                          std::shared_ptr<WebSocketPeer> peer);
  // Requests handed over and not yet finished: the worker gives new ones to the least loaded.
  int load() const { return in_flight_.load(std::memory_order_relaxed); }
  const std::string& loop_name() const { return loop_name_; }

  // The loop's callbacks (METH_NOARGS functions bound to a capsule of the context): run what
  // the inbox holds; prove the loop turns.
  static PyObject* drain_entry(PyObject* capsule, PyObject* unused);
  static PyObject* tick_entry(PyObject* capsule, PyObject* unused);
  static PyObject* release_entry(PyObject* capsule, PyObject* unused);  // ends a turn's WakeBatch

 private:
  // Loop thread: runs the app for one connection (`exchange` null: the exchange could not be made).
  void start_http(HttpRequest& request, std::shared_ptr<ResponseSink> sink);
  void start_websocket(HttpRequest& request, std::shared_ptr<ResponseSink> sink,
                       std::shared_ptr<WebSocketPeer> peer);
  void start_app(const HttpRequest& request, PyObject* app, PyObject* scope, PyRef exchange,
                 ResponseSink& sink);
  PyRef start_task(PyObject* coroutine);
  void start_lifespan(ServedApp& served);
  void stop_lifespan(ServedApp& served);
  void arm_tick();
  // The app a request was routed to; null (with a 500 answered) when there is none.
  ServedApp* served_for(const HttpRequest& request, ResponseSink& sink);

  std::vector<std::unique_ptr<ServedApp>> apps_;  // by mount index; null for WSGI mounts
  PyRef glue_;
  PyRef self_capsule_;
  PyRef drain_callable_;
  PyRef tick_callable_;
  PyRef tick_handle_;
  PyRef release_callable_;
  PyRef call_soon_;
  WakeBatch* turn_ = nullptr;  // open while serve() runs the loop
  std::shared_ptr<AsgiRuntime> runtime_;
  EventInbox::Taken taken_;  // drain_entry's, kept for its vectors' memory
  std::string loop_name_;
  AsgiSettings settings_;
  AsgiHooks hooks_;
  std::atomic<int> in_flight_{0};
};

}  // namespace hornbeam::python
