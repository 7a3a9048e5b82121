#pragma once

// What the HTTP and WebSocket exchanges share: the Python object that holds one exchange, the
// futures an awaiting receive() or send() holds, and how the loop's wake-ups resolve them.
//
// An exchange type `X` derives from ExchangeBase and provides, found by argument-dependent
// lookup:
//   PyRef next_receive(X&)      what receive() gives now; null (no exception) to wait
//   bool has_room_or_notify(X&) whether a waiting send() may go on
//   void abandon(X&)            ends the connection when the exchange dies without an outcome

#include "python/asgi_runtime.hpp"
#include "python/interpreter.hpp"
#include "python/ready_awaitable.hpp"

#include <memory>

namespace hornbeam::python {

struct ExchangeBase {
  std::shared_ptr<AsgiRuntime> runtime;
  std::shared_ptr<LoopWaker> waker;
  PyRef receive_waiter;  // the future an awaiting receive() holds
  PyRef send_waiter;     // the future an awaiting send() holds (backpressure)

  const AsgiKeys& keys() const { return runtime->keys; }
  // A new reference to an awaitable that is done already (None when value is null).
  PyObject* ready(PyObject* value = nullptr) {
    return make_ready(runtime->ready_type.get(), value).release();
  }
  // A new future, kept in `slot` until a wake-up resolves it; a new reference.
  PyObject* wait_in(PyRef& slot) {
    slot = PyRef::steal(PyObject_CallNoArgs(runtime->create_future.get()));
    return PyRef(slot).release();
  }
};

// The formatted traceback app_failed() was given, for the log.
inline std::string traceback_text(PyObject* text) {
  std::string traceback = text_for_log(text);
  return traceback.empty() ? "(no traceback)" : traceback;
}

template <class X>
struct ExchangeObject {
  PyObject_HEAD X* exchange;
};

template <class X>
X& exchange_of(PyObject* self) {
  return *reinterpret_cast<ExchangeObject<X>*>(self)->exchange;
}

// receive(): the next message now, or a future that a wake-up resolves.
template <class X>
PyObject* exchange_receive(PyObject* self, PyObject*) {
  X& x = exchange_of<X>(self);
  if (x.receive_waiter) {
    PyErr_SetString(PyExc_RuntimeError, "receive() called while another receive() is waiting");
    return nullptr;
  }
  PyRef message = next_receive(x);
  if (message) return x.ready(message.get());
  if (PyErr_Occurred()) return nullptr;
  return x.wait_in(x.receive_waiter);
}

// The I/O thread woke the loop for this exchange: something arrived, room freed up, or the
// client left.
template <class X>
void exchange_poke(PyObject* self) {
  X& x = exchange_of<X>(self);
  if (x.receive_waiter) {
    PyRef message = next_receive(x);
    if (message) {
      PyRef waiter = std::move(x.receive_waiter);
      if (!resolve_future(x.keys(), waiter.get(), message.get())) PyErr_Clear();
    } else if (PyErr_Occurred()) {
      PyErr_Clear();
    }
  }
  if (x.send_waiter && has_room_or_notify(x)) {
    PyRef waiter = std::move(x.send_waiter);
    if (!resolve_future(x.keys(), waiter.get(), Py_None)) PyErr_Clear();
  }
}

// The futures are the only Python objects an exchange holds that can lead back to it (through
// the app's task): the garbage collector must see them.
template <class X>
int exchange_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  if (X* x = reinterpret_cast<ExchangeObject<X>*>(self)->exchange) {
    Py_VISIT(x->receive_waiter.get());
    Py_VISIT(x->send_waiter.get());
  }
  return 0;
}

template <class X>
int exchange_clear(PyObject* self) {
  if (X* x = reinterpret_cast<ExchangeObject<X>*>(self)->exchange) {
    PyRef receive = std::move(x->receive_waiter);
    PyRef send = std::move(x->send_waiter);
  }
  return 0;
}

template <class X>
void exchange_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  auto* object = reinterpret_cast<ExchangeObject<X>*>(self);
  if (X* x = object->exchange) {
    x->waker->detach();
    abandon(*x);  // the app's task vanished without an outcome: never leave the client waiting
    delete x;
    object->exchange = nullptr;
  }
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_Del(self);
  Py_DECREF(type);
}

// A new exchange object of `type` (untracked: fill it, then PyObject_GC_Track it); null with
// a Python exception on failure.
template <class X>
ExchangeObject<X>* new_exchange(const std::shared_ptr<AsgiRuntime>& runtime, PyObject* type) {
  auto* object = PyObject_GC_New(ExchangeObject<X>, reinterpret_cast<PyTypeObject*>(type));
  if (!object) return nullptr;
  auto* x = new X;
  object->exchange = x;
  x->runtime = runtime;
  x->waker = std::make_shared<LoopWaker>(runtime->inbox, exchange_poke<X>);
  x->waker->attach(reinterpret_cast<PyObject*>(object));
  return object;
}

// The slots every exchange type has; `methods` adds its own.
template <class X>
PyType_Spec exchange_spec(const char* name, PyMethodDef* methods, PyType_Slot (&slots)[5]) {
  slots[0] = {Py_tp_dealloc, reinterpret_cast<void*>(exchange_dealloc<X>)};
  slots[1] = {Py_tp_traverse, reinterpret_cast<void*>(exchange_traverse<X>)};
  slots[2] = {Py_tp_clear, reinterpret_cast<void*>(exchange_clear<X>)};
  slots[3] = {Py_tp_methods, methods};
  slots[4] = {0, nullptr};
  return {name, sizeof(ExchangeObject<X>), 0,
          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};
}

}  // namespace hornbeam::python
