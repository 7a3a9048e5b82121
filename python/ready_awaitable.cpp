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

// The first step of the iterator ends it, returning the value (StopIteration(value)).
PyObject* ready_next(PyObject* self) {
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

PyType_Slot ready_slots[] = {
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
