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
#include "python/receive_awaitable.hpp"

#include <memory>
#include <vector>

namespace hornbeam::python {

struct ExchangeBase {
  std::shared_ptr<AsgiRuntime> runtime;
  std::shared_ptr<LoopWaker> waker;
  // The futures of the receive() calls waiting, in call order: each message goes to one, the
  // first still waiting (several tasks may wait at once: Starlette's StreamingResponse
  // listens for the disconnect while the app may receive too).
  // Vectors, not deques: they hold one or two entries, mostly none, and a deque allocates
  // two blocks as soon as it exists (4 allocations per request for the two).
  std::vector<PyRef> receive_waiters;
  // Messages given back by a receive() cancelled after its future got them: the next
  // receive() takes these first, so that nothing is lost.
  std::vector<PyRef> returned;
  PyRef send_waiter;  // the future an awaiting send() holds (backpressure)

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

// The next message for a receive(): one given back first, then what the exchange has now;
// null (no exception) when there is none yet.
template <class X>
PyRef take_message(X& x) {
  if (!x.returned.empty()) {
    PyRef message = std::move(x.returned.front());
    x.returned.erase(x.returned.begin());
    return message;
  }
  return next_receive(x);
}

// Whether a waiter's future is done already (cancelled with the task awaiting it); a failing
// check counts as done, so that a broken future never takes a message.
inline bool future_done(const AsgiKeys& keys, PyObject* future) {
  PyRef done = PyRef::steal(PyObject_CallMethodNoArgs(future, keys.done.get()));
  if (!done) PyErr_Clear();
  return !done || done.get() == Py_True;
}

// Hands the messages there are to the waiting receive() calls, in call order; a waiter that
// was cancelled meanwhile is skipped (and takes nothing).
template <class X>
void deliver_to_waiters(X& x) {
  while (!x.receive_waiters.empty()) {
    if (future_done(x.keys(), x.receive_waiters.front().get())) {
      x.receive_waiters.erase(x.receive_waiters.begin());
      continue;
    }
    PyRef message = take_message(x);
    if (!message) {
      if (PyErr_Occurred()) PyErr_Clear();
      return;
    }
    PyRef waiter = std::move(x.receive_waiters.front());
    x.receive_waiters.erase(x.receive_waiters.begin());
    if (!resolve_future(x.keys(), waiter.get(), message.get())) PyErr_Clear();
  }
}

// A waiting receive() is withdrawn (its task was cancelled, or it was dropped unawaited): its
// future leaves the queue, and a message the future had been given goes back for the next.
template <class X>
void exchange_withdraw(PyObject* self, PyObject* future) {
  X& x = exchange_of<X>(self);
  std::erase_if(x.receive_waiters,
                [future](const PyRef& waiter) { return waiter.get() == future; });
  const AsgiKeys& k = x.keys();
  PyRef cancelled = PyRef::steal(PyObject_CallMethodNoArgs(future, k.cancelled.get()));
  if (cancelled && cancelled.get() == Py_False && future_done(k, future)) {
    PyRef message = PyRef::steal(PyObject_CallMethodNoArgs(future, k.result.get()));
    if (message) x.returned.insert(x.returned.begin(), std::move(message));
  }
  if (PyErr_Occurred()) PyErr_Clear();
  deliver_to_waiters(x);
}

// receive(): the next message now, or an awaitable that a wake-up completes.
template <class X>
PyObject* exchange_receive(PyObject* self, PyObject*) {
  X& x = exchange_of<X>(self);
  while (!x.receive_waiters.empty() && future_done(x.keys(), x.receive_waiters.front().get()))
    x.receive_waiters.erase(x.receive_waiters.begin());
  if (x.receive_waiters.empty()) {  // else this call waits its turn behind them
    PyRef message = take_message(x);
    if (message) return x.ready(message.get());
    if (PyErr_Occurred()) return nullptr;
  }
  PyRef future = PyRef::steal(PyObject_CallNoArgs(x.runtime->create_future.get()));
  if (!future) return nullptr;
  PyRef awaitable = make_receive_awaitable(x.runtime->receive_type.get(), future.get(), self,
                                           exchange_withdraw<X>);
  if (!awaitable) return nullptr;
  x.receive_waiters.push_back(std::move(future));
  return awaitable.release();
}

// The I/O thread woke the loop for this exchange: something arrived, room freed up, or the
// client left.
template <class X>
void exchange_poke(PyObject* self) {
  X& x = exchange_of<X>(self);
  deliver_to_waiters(x);
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
    for (const auto& waiter : x->receive_waiters) Py_VISIT(waiter.get());
    for (const auto& message : x->returned) Py_VISIT(message.get());
    Py_VISIT(x->send_waiter.get());
  }
  return 0;
}

template <class X>
int exchange_clear(PyObject* self) {
  if (X* x = reinterpret_cast<ExchangeObject<X>*>(self)->exchange) {
    const auto waiters = std::move(x->receive_waiters);
    const auto returned = std::move(x->returned);
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
