#pragma once

// Pieces every heap type of ours (per interpreter, from PyType_FromSpec) needs alike.

#include <Python.h>

namespace hornbeam::python {

// tp_iter of an object that is its own iterator.
inline PyObject* iter_self(PyObject* self) {
  Py_INCREF(self);
  return self;
}

// The end of a heap type's tp_dealloc, after the object's own fields are released: instances
// of heap types own a reference to their type.
inline void free_heap_object(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);
}

}  // namespace hornbeam::python
