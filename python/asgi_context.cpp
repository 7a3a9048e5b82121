#include "python/asgi_context.hpp"

#include "common/log_text.hpp"
#include "common/logging.hpp"
#include "common/wake_batch.hpp"
#include "python/asgi_http.hpp"
#include "python/asgi_runtime.hpp"
#include "python/asgi_scope.hpp"
#include "python/asgi_websocket.hpp"
#include "python/embedded_module.hpp"
#include "python/exchange_runner.hpp"
#include "python/interpreter.hpp"
#include "python/ready_awaitable.hpp"
#include "python/receive_awaitable.hpp"
#include "python/task_registry.hpp"

#include <spdlog/logger.h>

namespace hornbeam::python {

extern const char* const asgi_glue_source;  // python/asgi_glue.py, compiled in (CMake)

namespace {

constexpr const char* glue_module = "_hornbeam_asgi";

// Throws with Python's traceback when `result` is null.
PyRef checked(PyRef result, const char* what) {
  if (!result) throw std::runtime_error(std::string(what) + ": " + take_exception_text());
  return result;
}

PyRef attribute(PyObject* object, const char* name) {
  return checked(PyRef::steal(PyObject_GetAttrString(object, name)), name);
}

// The glue module: a fresh instance per context (embedded_module.hpp says why).
PyRef load_glue() {
  return load_embedded_module(glue_module, asgi_glue_source, "hornbeam/asgi_glue.py");
}

AsgiContext* context_of(PyObject* capsule) {
  return static_cast<AsgiContext*>(PyCapsule_GetPointer(capsule, nullptr));
}

std::string text_of(PyObject* object) { return text_for_log(object); }

PyMethodDef drain_def = {"hornbeam_drain", AsgiContext::drain_entry, METH_NOARGS, nullptr};
PyMethodDef tick_def = {"hornbeam_tick", AsgiContext::tick_entry, METH_NOARGS, nullptr};
PyMethodDef release_def = {"hornbeam_release_wakes", AsgiContext::release_entry, METH_NOARGS,
                           nullptr};

}  // namespace

// One app of the context, and what its scopes and lifespan need.
struct ServedApp {
  std::string prefix;
  PyRef app;
  ScopeApp scope;
  PyRef lifespan;  // the glue's Lifespan, while the app takes part in it
  // " (the app at /api)" when the worker serves more than one app: for log lines.
  std::string where;
};

AsgiContext::AsgiContext(std::vector<AsgiMount> mounts, const AsgiSettings& settings,
                         AsgiHooks hooks)
    : settings_(settings), hooks_(std::move(hooks)) {
  glue_ = load_glue();
  runtime_ = std::make_shared<AsgiRuntime>();
  AsgiRuntime& r = *runtime_;
  PyRef made = checked(
      PyRef::steal(PyObject_CallMethod(glue_.get(), "new_event_loop", "s", settings.loop.c_str())),
      "cannot create the event loop");
  r.loop = PyRef::borrow(PyTuple_GetItem(made.get(), 0));
  loop_name_ = text_of(PyTuple_GetItem(made.get(), 1));
  PyObject* why_not_uvloop = PyTuple_GetItem(made.get(), 2);
  if (settings.index == 0 && why_not_uvloop != Py_None) {
    logging::error_log().info("loop: auto runs asyncio, as uvloop cannot be imported ({})",
                              text_of(why_not_uvloop));
  }
  PyRef asyncio = checked(PyRef::steal(PyImport_ImportModule("asyncio")), "asyncio");
  checked(PyRef::steal(PyObject_CallMethod(asyncio.get(), "set_event_loop", "O", r.loop.get())),
          "set_event_loop");
  if (!speed_up_task_registry()) {  // only slower without it
    logging::error_log().warn("asyncio's task registry stays as it is: {}", take_exception_text());
  }
  r.create_future = attribute(r.loop.get(), "create_future");
  r.create_task = attribute(r.loop.get(), "create_task");
  r.task_type = attribute(asyncio.get(), "Task");
  r.get_task_factory = attribute(r.loop.get(), "get_task_factory");
  r.task_keywords = checked(
      PyRef::steal(Py_BuildValue("{s:O,s:s}", "loop", r.loop.get(), "name", "hornbeam request")),
      "task keywords");
  r.exchange_runner_type = checked(make_exchange_runner_type(), "exchange runner type");
  r.running = checked(PyRef::steal(PySet_New(nullptr)), "set");
  r.cancelled_error = attribute(asyncio.get(), "CancelledError");
  PyRef traceback = checked(PyRef::steal(PyImport_ImportModule("traceback")), "traceback");
  r.format_exception = attribute(traceback.get(), "format_exception");
  r.ready_type = checked(make_ready_awaitable_type(), "ready awaitable type");
  r.receive_type = checked(make_receive_awaitable_type(), "receive awaitable type");
  r.http_exchange_type = checked(make_http_exchange_type(), "HTTP exchange type");
  r.websocket_exchange_type = checked(make_websocket_exchange_type(), "WebSocket exchange type");
  r.inbox = std::make_shared<EventInbox>();
  r.request_done = [this] {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (hooks_.request_done) hooks_.request_done();
  };

  self_capsule_ = checked(PyRef::steal(PyCapsule_New(this, nullptr, nullptr)), "capsule");
  drain_callable_ =
      checked(PyRef::steal(PyCFunction_New(&drain_def, self_capsule_.get())), "drain");
  tick_callable_ = checked(PyRef::steal(PyCFunction_New(&tick_def, self_capsule_.get())), "tick");
  release_callable_ =
      checked(PyRef::steal(PyCFunction_New(&release_def, self_capsule_.get())), "release");
  call_soon_ = attribute(r.loop.get(), "call_soon");
  checked(PyRef::steal(PyObject_CallMethod(r.loop.get(), "add_reader", "iO", r.inbox->fd(),
                                           drain_callable_.get())),
          "add_reader");
  const bool several = mounts.size() > 1 || (mounts.size() == 1 && mounts[0].prefix != "/");
  PyRef strip_check = attribute(glue_.get(), "path_without_root_path");
  for (auto& mount : mounts) {
    if (!mount.app) {
      apps_.push_back(nullptr);
      continue;
    }
    auto served = std::make_unique<ServedApp>();
    served->prefix = mount.prefix;
    served->app = std::move(mount.app);
    served->where = several ? " (the app at " + mount.prefix + ")" : "";
    const std::string root_path = mount.prefix == "/" ? "" : mount.prefix;
    served->scope.template_http =
        checked(make_scope_template(r.keys, ScopeKind::http, root_path), "scope template");
    served->scope.template_websocket =
        checked(make_scope_template(r.keys, ScopeKind::websocket, root_path), "scope template");
    PyRef strip = checked(PyRef::steal(PyObject_CallOneArg(strip_check.get(), served->app.get())),
                          "path_without_root_path");
    if (strip.get() == Py_True) served->scope.strip_from_path = root_path.size();
    apps_.push_back(std::move(served));
  }
  for (auto& served : apps_) {
    if (served) start_lifespan(*served);
  }
}

AsgiContext::~AsgiContext() {
  // Exchanges the app still holds must not call back into a context that is gone.
  if (runtime_) runtime_->request_done = nullptr;
}

void AsgiContext::start_lifespan(ServedApp& served) {
  if (settings_.lifespan == "off") return;  // no lifespan: no state in the scope either
  // An app under a prefix keeps its state apart from the others' (glue.SharedState).
  const std::string name_space =
      served.prefix == "/" ? std::string() : std::string(1, '\0') + served.prefix + '\0';
  PyRef space = checked(PyRef::steal(PyUnicode_FromStringAndSize(
                            name_space.data(), static_cast<Py_ssize_t>(name_space.size()))),
                        "lifespan state");
  PyRef state = checked(
      PyRef::steal(PyObject_CallOneArg(attribute(glue_.get(), "SharedState").get(), space.get())),
      "lifespan state");
  served.lifespan =
      checked(PyRef::steal(PyObject_CallMethod(glue_.get(), "Lifespan", "OOO", served.app.get(),
                                               runtime_->loop.get(), state.get())),
              "lifespan");
  PyRef outcome =
      checked(PyRef::steal(PyObject_CallMethod(served.lifespan.get(), "run_startup", nullptr)),
              "lifespan startup");
  const std::string kind = text_of(PyTuple_GetItem(outcome.get(), 0));
  const std::string detail = text_of(PyTuple_GetItem(outcome.get(), 1));
  const bool required = settings_.lifespan == "on";
  auto& log = logging::error_log();
  // From now on a write replaces a shared value; during startup it could only add one.
  if (PyObject_SetAttrString(state.get(), "starting", Py_False) != 0)
    throw std::runtime_error("lifespan state: " + take_exception_text());
  if (kind == "complete") {
    served.scope.lifespan_state = std::move(state);
    if (settings_.index == 0) log.info("ASGI lifespan startup complete{}", served.where);
    return;
  }
  if (kind == "failed") {
    throw LifespanStartupFailed("ASGI lifespan startup failed" + served.where + ": " + detail);
  }
  if (required) {
    throw LifespanStartupFailed(
        kind == "error"
            ? "ASGI lifespan startup raised" + served.where + ":\n" + detail
            : "the app" + served.where + " returned from ASGI lifespan without completing startup");
  }
  // lifespan: auto, and the app does not take part (Django raises on the scope).
  if (settings_.index == 0) {
    log.info("the app{} does not support ASGI lifespan ({}): serving without it", served.where,
             kind == "error" ? "it raised on the lifespan scope" : "it returned at once");
    if (kind == "error") log.debug("its lifespan error:\n{}", detail);
  }
  served.lifespan = PyRef();
  served.scope.lifespan_state = std::move(state);  // requests still get the shared state
}

void AsgiContext::stop_lifespan(ServedApp& served) {
  if (!served.lifespan) return;
  const double timeout = std::chrono::duration<double>(settings_.graceful_timeout).count();
  PyRef outcome =
      PyRef::steal(PyObject_CallMethod(served.lifespan.get(), "run_shutdown", "d", timeout));
  auto& log = logging::error_log();
  if (!outcome) {
    log.error("ASGI lifespan shutdown{}: {}", served.where, take_exception_text());
    return;
  }
  const std::string kind = text_of(PyTuple_GetItem(outcome.get(), 0));
  const std::string detail = text_of(PyTuple_GetItem(outcome.get(), 1));
  if (kind == "failed")
    log.error("ASGI lifespan shutdown failed{}: {}", served.where, detail);
  else if (kind == "error")
    log.error("ASGI lifespan shutdown raised{}:\n{}", served.where, detail);
  else if (kind == "timeout")
    log.warn("ASGI lifespan shutdown{} did not finish within graceful_timeout", served.where);
  else if (settings_.index == 0)
    log.info("ASGI lifespan shutdown complete{}", served.where);
}

bool AsgiContext::serve() {
  AsgiRuntime& r = *runtime_;
  arm_tick();
  PyRef ran;
  {
    // What the app's tasks hand to the I/O thread during one turn of the loop wakes it once,
    // from a callback queued behind the turn's work.
    WakeBatch turn([this] {
      PyRef queued = PyRef::steal(PyObject_CallOneArg(call_soon_.get(), release_callable_.get()));
      if (!queued) {
        PyErr_Clear();
        turn_->release();
      }
    });
    turn_ = &turn;
    // run_forever returns when stop_serving() stops the loop. It raises when a task or a
    // callback of the app raised SystemExit or KeyboardInterrupt, which asyncio carries out
    // of the loop: the task that raised is over, the others and the requests queued for this
    // context are not, so the loop runs on (a loop that stayed stopped left the worker taking
    // requests that nothing would answer).
    while (!(ran = PyRef::steal(PyObject_CallMethod(r.loop.get(), "run_forever", nullptr)))) {
      const bool interrupted = PyErr_ExceptionMatches(PyExc_SystemExit) ||
                               PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
      logging::error_log().error("the event loop of context {} {}: {}", settings_.index,
                                 interrupted ? "was interrupted (it runs on)" : "failed",
                                 take_exception_text());
      if (!interrupted) break;
    }
    turn_ = nullptr;
  }
  if (tick_handle_) PyRef::steal(PyObject_CallMethod(tick_handle_.get(), "cancel", nullptr));
  tick_handle_ = PyRef();
  for (auto served = apps_.rbegin(); served != apps_.rend(); ++served) {
    if (*served) stop_lifespan(**served);
  }
  PyRef cancelled =
      PyRef::steal(PyObject_CallMethod(glue_.get(), "cancel_remaining", "O", r.loop.get()));
  if (!cancelled)
    logging::error_log().error("stopping context {}: {}", settings_.index, take_exception_text());
  PyRef removed =
      PyRef::steal(PyObject_CallMethod(r.loop.get(), "remove_reader", "i", r.inbox->fd()));
  PyRef closed = PyRef::steal(PyObject_CallMethod(r.loop.get(), "close", nullptr));
  if (!removed || !closed) PyErr_Clear();
  return true;
}

void AsgiContext::stop_serving() {
  runtime_->inbox->post([this] {
    PyRef stopped = PyRef::steal(PyObject_CallMethod(runtime_->loop.get(), "stop", nullptr));
    if (!stopped) PyErr_Clear();
  });
}

void AsgiContext::dispatch(HttpRequest&& request, std::shared_ptr<ResponseSink> sink) {
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  runtime_->inbox->post_http(std::move(request), std::move(sink));
}

void AsgiContext::dispatch_websocket(HttpRequest&& request, std::shared_ptr<ResponseSink> sink,
                                     std::shared_ptr<WebSocketPeer> peer) {
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  runtime_->inbox->post([this, request = std::move(request), sink = std::move(sink),
                         peer = std::move(peer)]() mutable {
    start_websocket(request, std::move(sink), std::move(peer));
  });
}

ServedApp* AsgiContext::served_for(const HttpRequest& request, ResponseSink& sink) {
  const auto index = static_cast<std::size_t>(request.mount);
  if (request.mount >= 0 && index < apps_.size() && apps_[index]) return apps_[index].get();
  logging::error_log().error("no ASGI app for {} {} (mount {})", request.method,
                             logging::escape_for_log(request.target), request.mount);
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  sink.fail(500);
  return nullptr;
}

void AsgiContext::start_http(HttpRequest& request, std::shared_ptr<ResponseSink> sink) {
  ServedApp* served = served_for(request, *sink);
  if (!served) return;
  PyRef scope = build_scope(*runtime_, served->scope, request, ScopeKind::http);
  sink->return_fields(std::move(request.headers));  // the scope has them now
  PyRef exchange = scope ? make_http_exchange(runtime_, request, sink) : PyRef();
  start_app(request, served->app.get(), scope.get(), std::move(exchange), *sink);
}

void AsgiContext::start_websocket(HttpRequest& request, std::shared_ptr<ResponseSink> sink,
                                  std::shared_ptr<WebSocketPeer> peer) {
  ServedApp* served = served_for(request, *sink);
  if (!served) return;
  PyRef scope = build_scope(*runtime_, served->scope, request, ScopeKind::websocket);
  PyRef exchange =
      scope ? make_websocket_exchange(runtime_, request, sink, std::move(peer)) : PyRef();
  start_app(request, served->app.get(), scope.get(), std::move(exchange), *sink);
}

void AsgiContext::start_app(const HttpRequest& request, PyObject* app, PyObject* scope,
                            PyRef exchange, ResponseSink& sink) {
  AsgiRuntime& r = *runtime_;
  PyRef coroutine = exchange ? make_exchange_runner(runtime_, app, scope, exchange.get()) : PyRef();
  PyRef task = coroutine ? start_task(coroutine.get()) : PyRef();
  if (task && PySet_Add(r.running.get(), exchange.get()) == 0) return;
  const std::string error = take_exception_text();
  if (exchange) {  // it answers 500 and counts the request as done
    PyRef failed =
        PyRef::steal(PyObject_CallMethod(exchange.get(), "app_failed", "s", error.c_str()));
    if (!failed) PyErr_Clear();
    return;
  }
  logging::error_log().error("cannot start the ASGI app for {} {}: {}", request.method,
                             logging::escape_for_log(request.target), error);
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  sink.fail(500);
}

// loop.create_task(coroutine), for a sixth of an ASGI hello world's instructions less: uvloop
// builds a keyword dict for each Task and the Task formats its "Task-<n>" name, so the Task
// is made here with a fixed name, unless the app installed a task factory (which then runs).
PyRef AsgiContext::start_task(PyObject* coroutine) {
  AsgiRuntime& r = *runtime_;
  PyRef factory = PyRef::steal(PyObject_CallNoArgs(r.get_task_factory.get()));
  if (!factory) return {};
  if (factory.get() != Py_None)
    return PyRef::steal(PyObject_CallOneArg(r.create_task.get(), coroutine));
  // Keywords as a dict made once: a vectorcall's keyword names would become a new dict in
  // every call (the Task type has no vectorcall of its own).
  PyRef arguments = PyRef::steal(PyTuple_Pack(1, coroutine));
  if (!arguments) return {};
  return PyRef::steal(PyObject_Call(r.task_type.get(), arguments.get(), r.task_keywords.get()));
}

void AsgiContext::arm_tick() {
  if (hooks_.alive) hooks_.alive();
  const double seconds = std::chrono::duration<double>(settings_.tick_interval).count();
  tick_handle_ = PyRef::steal(
      PyObject_CallMethod(runtime_->loop.get(), "call_later", "dO", seconds, tick_callable_.get()));
  if (!tick_handle_)
    logging::error_log().error("cannot arm the loop's heartbeat: {}", take_exception_text());
}

PyObject* AsgiContext::drain_entry(PyObject* capsule, PyObject*) {
  AsgiContext* self = context_of(capsule);
  if (self->hooks_.alive) self->hooks_.alive();
  EventInbox::Taken& taken = self->taken_;
  self->runtime_->inbox->take(taken);
  for (auto& start : taken.http_starts) self->start_http(start.request, std::move(start.sink));
  for (auto& event : taken.events) event();
  // What the closures held goes now, not at the next drain (a response channel still held
  // here could not be reused by its connection).
  taken.http_starts.clear();
  taken.events.clear();
  Py_RETURN_NONE;
}

PyObject* AsgiContext::release_entry(PyObject* capsule, PyObject*) {
  if (WakeBatch* turn = context_of(capsule)->turn_) turn->release();
  Py_RETURN_NONE;
}

PyObject* AsgiContext::tick_entry(PyObject* capsule, PyObject*) {
  context_of(capsule)->arm_tick();
  Py_RETURN_NONE;
}

}  // namespace hornbeam::python
