#include "python/exchange_runner.hpp"

#include "python/asgi_runtime.hpp"
#include "python/heap_type.hpp"

#include <new>
#include <optional>

namespace hornbeam::python {
namespace {

struct RunnerObject {
  PyObject_HEAD PyObject* app;  // owned until the first step
  PyObject* scope;              // owned until the first step
  PyObject* exchange;           // owned
  // Owned from the first step to the end: what `await app(...)` iterates.
  PyObject* awaited;
  bool done;                             // the exchange has heard the outcome
  std::shared_ptr<AsgiRuntime> runtime;  // constructed in place (make_exchange_runner)
};

RunnerObject* as_runner(PyObject* self) { return reinterpret_cast<RunnerObject*>(self); }

// The exception being raised, taken out of the thread's state (normalized, with its
// traceback) so that Python can be called meanwhile; released unless restored.
struct CaughtException {
  PyObject* type = nullptr;
  PyObject* value = nullptr;
  PyObject* traceback = nullptr;

  CaughtException() {
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (value && traceback) PyException_SetTraceback(value, traceback);
  }
  ~CaughtException() {
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
  }
  CaughtException(const CaughtException&) = delete;
  CaughtException& operator=(const CaughtException&) = delete;

  bool is(PyObject* kind) const { return type && PyErr_GivenExceptionMatches(type, kind); }
  void restore() {
    PyErr_Restore(type, value, traceback);
    type = value = traceback = nullptr;
  }
};

// What `await awaitable` iterates: a native coroutine itself, else what __await__ returns.
PyRef await_iterator(PyObject* awaitable) {
  if (PyCoro_CheckExact(awaitable)) return PyRef::borrow(awaitable);
  const auto* async = Py_TYPE(awaitable)->tp_as_async;
  if (!async || !async->am_await) {
    PyErr_Format(PyExc_TypeError, "the ASGI app returned %.200s, which cannot be awaited",
                 Py_TYPE(awaitable)->tp_name);
    return {};
  }
  PyRef iterator = PyRef::steal(async->am_await(awaitable));
  if (iterator && (!PyIter_Check(iterator.get()) || PyCoro_CheckExact(iterator.get()))) {
    PyErr_Format(PyExc_TypeError, "__await__() returned non-iterator of type '%.100s'",
                 Py_TYPE(iterator.get())->tp_name);
    return {};
  }
  return iterator;
}

// The first step: app(scope, receive, send). False with the exception set when it failed.
bool begin(RunnerObject* r) {
  const AsgiKeys& k = r->runtime->keys;
  PyRef receive = PyRef::steal(PyObject_GetAttr(r->exchange, k.receive.get()));
  PyRef send = receive ? PyRef::steal(PyObject_GetAttr(r->exchange, k.send.get())) : PyRef();
  PyRef awaitable;
  if (send) {
    PyObject* arguments[] = {r->scope, receive.get(), send.get()};
    awaitable = PyRef::steal(PyObject_Vectorcall(r->app, arguments, 3, nullptr));
  }
  Py_CLEAR(r->app);
  Py_CLEAR(r->scope);
  if (!awaitable) return false;
  r->awaited = await_iterator(awaitable.get()).release();
  return r->awaited != nullptr;
}

// The traceback as Python prints it; never fails (the log line must come).
PyRef traceback_text(const AsgiRuntime& runtime, PyObject* exception) {
  PyRef lines = PyRef::steal(PyObject_CallOneArg(runtime.format_exception.get(), exception));
  PyRef text =
      lines ? PyRef::steal(PyUnicode_Join(runtime.keys.empty_str.get(), lines.get())) : PyRef();
  if (text) return text;
  PyErr_Clear();
  text = PyRef::steal(PyObject_Repr(exception));
  if (text) return text;
  PyErr_Clear();
  return PyRef::steal(PyUnicode_FromString("(the traceback could not be formatted)"));
}

// The app's awaitable ended: PYGEN_RETURN (its value in *result, dropped) or PYGEN_ERROR (the
// exception set). The exchange hears it, the exchange leaves `running`, and the runner ends:
// raising again after a cancellation, else with None (answered 500 and logged). That includes
// SystemExit and KeyboardInterrupt from the app, as Uvicorn and the WSGI side take them: raised
// again, asyncio would carry them out of the loop's run_forever and stop the context's loop
// for good while the worker went on taking requests for it.
PySendResult settle(RunnerObject* r, PySendResult status, PyObject** result) {
  if (status == PYGEN_NEXT) return status;
  r->done = true;
  Py_CLEAR(r->awaited);
  const AsgiRuntime& runtime = *r->runtime;
  const AsgiKeys& k = runtime.keys;
  std::optional<CaughtException> caught;
  bool raise_again = false;
  PyRef heard;
  if (status == PYGEN_RETURN) {
    Py_CLEAR(*result);
    heard = PyRef::steal(PyObject_CallMethodNoArgs(r->exchange, k.app_returned.get()));
  } else {
    caught.emplace();
    PyRef text;
    if (caught->is(runtime.cancelled_error.get())) {
      raise_again = true;
      text = PyRef::borrow(Py_None);
    } else {
      text = traceback_text(runtime, caught->value ? caught->value : Py_None);
    }
    heard = PyRef::steal(PyObject_CallMethodOneArg(r->exchange, k.app_failed.get(), text.get()));
  }
  std::optional<CaughtException> failed_to_hear;
  if (!heard) failed_to_hear.emplace();
  if (PySet_Discard(runtime.running.get(), r->exchange) < 0) PyErr_Clear();
  if (failed_to_hear) {
    failed_to_hear->restore();
    return PYGEN_ERROR;
  }
  if (raise_again) {
    caught->restore();
    return PYGEN_ERROR;
  }
  Py_INCREF(Py_None);
  *result = Py_None;
  return PYGEN_RETURN;
}

// One step with `value` sent in (None from the Task): the tp_as_async->am_send a Task's step
// calls through PyIter_Send.
PySendResult runner_am_send(PyObject* self, PyObject* value, PyObject** result) {
  auto* r = as_runner(self);
  *result = nullptr;
  if (r->done) {
    PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
    return PYGEN_ERROR;
  }
  if (!r->awaited && !begin(r)) return settle(r, PYGEN_ERROR, result);
  return settle(r, PyIter_Send(r->awaited, value, result), result);
}

// A step as a method gives it: the yielded value, or null with StopIteration (the end; the
// runner's value is always None) or with the error.
PyObject* method_result(PySendResult status, PyObject* result) {
  if (status == PYGEN_NEXT) return result;
  if (status == PYGEN_RETURN) {
    Py_DECREF(result);
    PyErr_SetNone(PyExc_StopIteration);
  }
  return nullptr;
}

PyObject* runner_next(PyObject* self) {
  PyObject* result = nullptr;
  const PySendResult status = runner_am_send(self, Py_None, &result);
  if (status == PYGEN_RETURN) {
    Py_DECREF(result);
    return nullptr;  // exhausted: no exception needed
  }
  return status == PYGEN_NEXT ? result : nullptr;
}

PyObject* runner_send(PyObject* self, PyObject* value) {
  PyObject* result = nullptr;
  const PySendResult status = runner_am_send(self, value, &result);
  return method_result(status, result);
}

// The Task cancels (or throws into) the awaiting app: thrown into the app's awaitable, whose
// answer decides the step.
PyObject* runner_throw(PyObject* self, PyObject* const* args, Py_ssize_t count) {
  auto* r = as_runner(self);
  if (r->done || count < 1 || count > 3) return raise_thrown(args, count);
  PyObject* result = nullptr;
  PySendResult status = PYGEN_ERROR;
  if (!r->awaited) {  // before the first step: the app is never called
    Py_CLEAR(r->app);
    Py_CLEAR(r->scope);
    raise_thrown(args, count);
  } else {
    PyObject* call[4] = {r->awaited, nullptr, nullptr, nullptr};
    for (Py_ssize_t i = 0; i < count; ++i) call[i + 1] = args[i];
    result = PyObject_VectorcallMethod(r->runtime->keys.throw_.get(), call,
                                       static_cast<std::size_t>(count) + 1, nullptr);
    if (result) {
      status = PYGEN_NEXT;
    } else if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
      PyErr_Clear();  // the app returned (its value is dropped)
      Py_INCREF(Py_None);
      result = Py_None;
      status = PYGEN_RETURN;
    }
  }
  status = settle(r, status, &result);
  return method_result(status, result);
}

// Closed before its end (its Task was dropped pending, as when the loop stops): the app's
// awaitable is closed, and the exchange hears it as a cancellation. A runner that never
// started only lets go of the exchange: the app never ran.
PyObject* runner_close(PyObject* self, PyObject*) {
  auto* r = as_runner(self);
  if (r->done) Py_RETURN_NONE;
  if (!r->awaited) {
    r->done = true;
    Py_CLEAR(r->app);
    Py_CLEAR(r->scope);
    if (PySet_Discard(r->runtime->running.get(), r->exchange) < 0) PyErr_Clear();
    Py_RETURN_NONE;
  }
  const PyRef& close = r->runtime->keys.close;
  PyRef closed = PyObject_HasAttr(r->awaited, close.get())
                     ? PyRef::steal(PyObject_CallMethodNoArgs(r->awaited, close.get()))
                     : PyRef::borrow(Py_None);  // an iterator without close(): nothing to end
  if (closed) PyErr_SetNone(r->runtime->cancelled_error.get());
  PyObject* result = nullptr;
  const PySendResult status = settle(r, PYGEN_ERROR, &result);
  if (status == PYGEN_ERROR && PyErr_ExceptionMatches(r->runtime->cancelled_error.get())) {
    PyErr_Clear();
    Py_RETURN_NONE;
  }
  if (status == PYGEN_RETURN) return result;  // None: a failure to close, heard as a 500
  return nullptr;
}

// A runner dropped mid-way (with its Task) ends its app as close() does, as a coroutine's
// finalizer would.
void runner_finalize(PyObject* self) {
  auto* r = as_runner(self);
  if (r->done || !r->awaited) return;
  CaughtException pending;  // whatever was being raised when the runner was dropped
  PyRef closed = PyRef::steal(runner_close(self, nullptr));
  if (!closed) PyErr_WriteUnraisable(self);
  pending.restore();
}

// The coroutine-state attributes inspect.getcoroutinestate() reads (anyio asks them of a
// task's coroutine): the app's coroutine's while it runs; before, "created", and after,
// "closed".
PyObject* app_coroutine(PyObject* self) {
  PyObject* awaited = as_runner(self)->awaited;
  return awaited && PyCoro_CheckExact(awaited) ? awaited : nullptr;
}

PyObject* get_cr_running(PyObject* self, void*) {
  if (PyObject* coroutine = app_coroutine(self))
    return PyObject_GetAttrString(coroutine, "cr_running");
  Py_RETURN_FALSE;
}

PyObject* get_cr_suspended(PyObject* self, void*) {
  if (PyObject* coroutine = app_coroutine(self))
    return PyObject_GetAttrString(coroutine, "cr_suspended");
  Py_RETURN_FALSE;
}

PyObject* get_cr_frame(PyObject* self, void*) {
  if (PyObject* coroutine = app_coroutine(self))
    return PyObject_GetAttrString(coroutine, "cr_frame");
  PyObject* value = as_runner(self)->done ? Py_None : self;  // not None: not closed yet
  Py_INCREF(value);
  return value;
}

int runner_traverse(PyObject* self, visitproc visit, void* arg) {
  auto* r = as_runner(self);
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(r->app);
  Py_VISIT(r->scope);
  Py_VISIT(r->exchange);
  Py_VISIT(r->awaited);
  return 0;
}

int runner_clear(PyObject* self) {
  auto* r = as_runner(self);
  Py_CLEAR(r->app);
  Py_CLEAR(r->scope);
  Py_CLEAR(r->awaited);
  Py_CLEAR(r->exchange);
  return 0;
}

void runner_dealloc(PyObject* self) {
  if (PyObject_CallFinalizerFromDealloc(self) < 0) return;  // resurrected by its finalizer
  PyObject_GC_UnTrack(self);
  runner_clear(self);
  as_runner(self)->runtime.~shared_ptr();
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_Del(self);
  Py_DECREF(type);
}

PyMethodDef runner_methods[] = {
    {"send", runner_send, METH_O, nullptr},
    {"throw", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(runner_throw)),
     METH_FASTCALL, nullptr},
    {"close", runner_close, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef runner_getset[] = {{"cr_running", get_cr_running, nullptr, nullptr, nullptr},
                               {"cr_suspended", get_cr_suspended, nullptr, nullptr, nullptr},
                               {"cr_frame", get_cr_frame, nullptr, nullptr, nullptr},
                               {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot runner_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(runner_dealloc)},
    {Py_tp_finalize, reinterpret_cast<void*>(runner_finalize)},
    {Py_tp_traverse, reinterpret_cast<void*>(runner_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(runner_clear)},
    {Py_am_await, reinterpret_cast<void*>(iter_self)},
    {Py_am_send, reinterpret_cast<void*>(runner_am_send)},
    {Py_tp_iter, reinterpret_cast<void*>(iter_self)},
    {Py_tp_iternext, reinterpret_cast<void*>(runner_next)},
    {Py_tp_methods, runner_methods},
    {Py_tp_getset, runner_getset},
    {Py_tp_doc, const_cast<char*>("Runs an ASGI app for one request or websocket.")},
    {0, nullptr}};

PyType_Spec runner_spec = {
    "hornbeam.ExchangeRunner", sizeof(RunnerObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION, runner_slots};

}  // namespace

PyRef make_exchange_runner_type() { return PyRef::steal(PyType_FromSpec(&runner_spec)); }

PyRef make_exchange_runner(const std::shared_ptr<AsgiRuntime>& runtime, PyObject* app,
                           PyObject* scope, PyObject* exchange) {
  auto* r = PyObject_GC_New(RunnerObject,
                            reinterpret_cast<PyTypeObject*>(runtime->exchange_runner_type.get()));
  if (!r) return {};
  Py_INCREF(app);
  Py_INCREF(scope);
  Py_INCREF(exchange);
  r->app = app;
  r->scope = scope;
  r->exchange = exchange;
  r->awaited = nullptr;
  r->done = false;
  new (&r->runtime) std::shared_ptr<AsgiRuntime>(runtime);
  PyObject_GC_Track(reinterpret_cast<PyObject*>(r));
  return PyRef::steal(reinterpret_cast<PyObject*>(r));
}

}  // namespace hornbeam::python
