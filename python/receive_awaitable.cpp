#include "python/receive_awaitable.hpp"

#include "python/heap_type.hpp"

namespace hornbeam::python {
namespace {

struct ReceiveObject {
  PyObject_HEAD PyObject* future;  // owned
  PyObject* inner;                 // future.__await__(): what every step delegates to
  PyObject* exchange;              // owned; null once withdrawn or finished
  Withdraw withdraw;
};

ReceiveObject* as_receive(PyObject* self) { return reinterpret_cast<ReceiveObject*>(self); }

// The future's outcome is settled for this awaitable: nothing more to withdraw.
void forget_exchange(ReceiveObject* receive) { Py_CLEAR(receive->exchange); }

void withdraw_now(ReceiveObject* receive) {
  if (!receive->exchange) return;
  PyObject* exchange = receive->exchange;
  receive->exchange = nullptr;
  // Whatever exception is being thrown in must survive the withdrawal.
  PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
  PyErr_Fetch(&type, &value, &traceback);
  receive->withdraw(exchange, receive->future);
  PyErr_Restore(type, value, traceback);
  Py_DECREF(exchange);
}

PyObject* receive_next(PyObject* self) {
  auto* receive = as_receive(self);
  PyObject* yielded = Py_TYPE(receive->inner)->tp_iternext(receive->inner);
  // Not a yield: the future is done, and its result (or exception) now goes to the task.
  if (!yielded) forget_exchange(receive);
  return yielded;
}

PyObject* receive_send(PyObject* self, PyObject* value) {
  auto* receive = as_receive(self);
  PyRef method = PyRef::steal(PyObject_GetAttrString(receive->inner, "send"));
  PyObject* yielded = method ? PyObject_CallOneArg(method.get(), value) : nullptr;
  if (!yielded) forget_exchange(receive);
  return yielded;
}

// The task is cancelled (or another exception is thrown in) while it awaits: withdraw, then
// let the future's own iterator raise it at the await.
PyObject* receive_throw(PyObject* self, PyObject* const* args, Py_ssize_t count) {
  auto* receive = as_receive(self);
  withdraw_now(receive);
  PyRef method = PyRef::steal(PyObject_GetAttrString(receive->inner, "throw"));
  if (!method) return nullptr;
  return PyObject_Vectorcall(method.get(), args, static_cast<std::size_t>(count), nullptr);
}

PyObject* receive_close(PyObject* self, PyObject*) {
  withdraw_now(as_receive(self));
  Py_RETURN_NONE;
}

int receive_traverse(PyObject* self, visitproc visit, void* arg) {
  auto* receive = as_receive(self);
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(receive->future);
  Py_VISIT(receive->inner);
  Py_VISIT(receive->exchange);
  return 0;
}

int receive_clear(PyObject* self) {
  auto* receive = as_receive(self);
  withdraw_now(receive);
  Py_CLEAR(receive->inner);
  Py_CLEAR(receive->future);
  return 0;
}

void receive_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  receive_clear(self);  // dropped unawaited, or mid-wait: the message it may hold goes back
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_Del(self);
  Py_DECREF(type);
}

PyMethodDef receive_methods[] = {
    {"send", receive_send, METH_O, nullptr},
    {"throw", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(receive_throw)),
     METH_FASTCALL, nullptr},
    {"close", receive_close, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr}};

PyType_Slot receive_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(receive_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(receive_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(receive_clear)},
    {Py_am_await, reinterpret_cast<void*>(iter_self)},
    {Py_tp_iter, reinterpret_cast<void*>(iter_self)},
    {Py_tp_iternext, reinterpret_cast<void*>(receive_next)},
    {Py_tp_methods, receive_methods},
    {Py_tp_doc, const_cast<char*>("An ASGI receive() waiting for its message.")},
    {0, nullptr}};

PyType_Spec receive_spec = {"hornbeam.ReceiveAwaitable", sizeof(ReceiveObject), 0,
                            Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, receive_slots};

}  // namespace

PyRef make_receive_awaitable_type() { return PyRef::steal(PyType_FromSpec(&receive_spec)); }

PyRef make_receive_awaitable(PyObject* type, PyObject* future, PyObject* exchange,
                             Withdraw withdraw) {
  PyObject* inner = nullptr;
  const auto* async = Py_TYPE(future)->tp_as_async;
  inner = async && async->am_await ? async->am_await(future)
                                   : PyObject_CallMethod(future, "__await__", nullptr);
  if (!inner) return {};
  auto* receive = PyObject_GC_New(ReceiveObject, reinterpret_cast<PyTypeObject*>(type));
  if (!receive) {
    Py_DECREF(inner);
    return {};
  }
  Py_INCREF(future);
  Py_INCREF(exchange);
  receive->future = future;
  receive->inner = inner;
  receive->exchange = exchange;
  receive->withdraw = withdraw;
  PyObject_GC_Track(receive);
  return PyRef::steal(reinterpret_cast<PyObject*>(receive));
}

}  // namespace hornbeam::python
