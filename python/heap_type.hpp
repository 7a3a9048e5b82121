#pragma once

// Pieces every heap type of ours (per interpreter, from PyType_FromSpec) needs alike.

#include <Python.h>

namespace hornbeam::python {

// tp_iter of an object that is its own iterator.
inline PyObject* iter_self(PyObject* self) {
  Py_INCREF(self);
  return self;
}

// What a coroutine's throw(type[, value[, traceback]]) or throw(exception) does when the
// coroutine does not catch it: raise it. Returns null with the exception set.
inline PyObject* raise_thrown(PyObject* const* args, Py_ssize_t count) {
  if (count < 1 || count > 3) {
    PyErr_SetString(PyExc_TypeError, "throw() takes from 1 to 3 arguments");
    return nullptr;
  }
  PyObject* first = args[0];
  if (PyExceptionInstance_Check(first)) {
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(first)), first);
  } else if (PyExceptionClass_Check(first)) {
    PyErr_SetObject(first, count > 1 ? args[1] : Py_None);
  } else {
    PyErr_SetString(PyExc_TypeError, "throw() needs an exception class or instance");
  }
  return nullptr;
}

// The end of a heap type's tp_dealloc, after the object's own fields are released: instances
// of heap types own a reference to their type.
inline void free_heap_object(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);
}

}  // namespace hornbeam::python
