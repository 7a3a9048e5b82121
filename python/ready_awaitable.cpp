#include "python/ready_awaitable.hpp"

#include "python/heap_type.hpp"

namespace hornbeam::python {
namespace {

struct ReadyObject {
  PyObject_HEAD PyObject* value;  // owned; null once given
};

void ready_dealloc(PyObject* self) {
  Py_CLEAR(reinterpret_cast<ReadyObject*>(self)->value);
  free_heap_object(self);
}

// Ends the iterator with StopIteration(value).
PyObject* stop_with_value(PyObject* self) {
  auto* ready = reinterpret_cast<ReadyObject*>(self);
  PyObject* value = ready->value ? ready->value : Py_None;
  // StopIteration(value) made explicitly: a tuple value would be unpacked as arguments.
  PyObject* stop = PyObject_CallOneArg(PyExc_StopIteration, value);
  Py_CLEAR(ready->value);
  if (stop) {
    PyErr_SetObject(PyExc_StopIteration, stop);
    Py_DECREF(stop);
  }
  return nullptr;
}

// The first step of the iterator ends it, returning the value. An iternext that returns null
// without an exception is exhausted with the value None, which spares making a StopIteration
// for every `await send(...)` (a third of this object's cost).
PyObject* ready_next(PyObject* self) {
  if (!reinterpret_cast<ReadyObject*>(self)->value) return nullptr;
  return stop_with_value(self);
}

// send(), throw() and close() make it a coroutine to asyncio (collections.abc.Coroutine asks
// for them with __await__): apps pass receive() to asyncio.create_task, and anyio's start_soon
// checks asyncio.iscoroutine, as a coroutine function's result would pass. A method must raise
// to end it, so send() always raises StopIteration.
PyObject* ready_send(PyObject* self, PyObject*) { return stop_with_value(self); }

PyObject* ready_throw(PyObject* self, PyObject* const* args, Py_ssize_t count) {
  Py_CLEAR(reinterpret_cast<ReadyObject*>(self)->value);
  return raise_thrown(args, count);
}

PyObject* ready_close(PyObject* self, PyObject*) {
  Py_CLEAR(reinterpret_cast<ReadyObject*>(self)->value);
  Py_RETURN_NONE;
}

PyMethodDef ready_methods[] = {
    {"send", ready_send, METH_O, nullptr},
    {"throw", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(ready_throw)),
     METH_FASTCALL, nullptr},
    {"close", ready_close, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr}};

PyType_Slot ready_slots[] = {
    {Py_tp_methods, ready_methods},
    {Py_tp_dealloc, reinterpret_cast<void*>(ready_dealloc)},
    {Py_am_await, reinterpret_cast<void*>(iter_self)},
    {Py_tp_iter, reinterpret_cast<void*>(iter_self)},
    {Py_tp_iternext, reinterpret_cast<void*>(ready_next)},
    {Py_tp_doc, const_cast<char*>("An ASGI result that needs no waiting.")},
    {0, nullptr}};

PyType_Spec ready_spec = {"hornbeam.ReadyAwaitable", sizeof(ReadyObject), 0, Py_TPFLAGS_DEFAULT,
                          ready_slots};

}  // namespace

PyRef make_ready_awaitable_type() { return PyRef::steal(PyType_FromSpec(&ready_spec)); }

PyRef make_ready(PyObject* type, PyObject* value) {
  auto* ready = PyObject_New(ReadyObject, reinterpret_cast<PyTypeObject*>(type));
  if (!ready) return {};
  ready->value = value;
  Py_XINCREF(value);
  return PyRef::steal(reinterpret_cast<PyObject*>(ready));
}

}  // namespace hornbeam::python
