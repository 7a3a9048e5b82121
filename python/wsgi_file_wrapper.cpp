#include "python/wsgi_file_wrapper.hpp"

#include "python/heap_type.hpp"

namespace hornbeam::python {
namespace {

struct FileWrapperObject {
  PyObject_HEAD PyObject* filelike;
  Py_ssize_t block_size;
};

PyObject* wrapper_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"filelike", "blksize", nullptr};
  PyObject* filelike = nullptr;
  Py_ssize_t block_size = 8192;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|n:file_wrapper", const_cast<char**>(keywords),
                                   &filelike, &block_size)) {
    return nullptr;
  }
  if (block_size <= 0) {
    PyErr_SetString(PyExc_ValueError, "blksize must be positive");
    return nullptr;
  }
  auto* self = reinterpret_cast<FileWrapperObject*>(type->tp_alloc(type, 0));
  if (!self) return nullptr;
  Py_INCREF(filelike);
  self->filelike = filelike;
  self->block_size = block_size;
  return reinterpret_cast<PyObject*>(self);
}

PyObject* wrapper_next(PyObject* self) {
  auto* wrapper = reinterpret_cast<FileWrapperObject*>(self);
  PyObject* data = PyObject_CallMethod(wrapper->filelike, "read", "n", wrapper->block_size);
  if (!data) return nullptr;
  if (PyBytes_Check(data) && PyBytes_GET_SIZE(data) == 0) {
    Py_DECREF(data);
    return nullptr;  // StopIteration
  }
  return data;
}

PyObject* wrapper_close(PyObject* self, PyObject*) {
  auto* wrapper = reinterpret_cast<FileWrapperObject*>(self);
  if (PyObject_HasAttrString(wrapper->filelike, "close")) {
    return PyObject_CallMethod(wrapper->filelike, "close", nullptr);
  }
  Py_RETURN_NONE;
}

void wrapper_dealloc(PyObject* self) {
  Py_XDECREF(reinterpret_cast<FileWrapperObject*>(self)->filelike);
  free_heap_object(self);
}

PyMethodDef methods[] = {
    {"close", wrapper_close, METH_NOARGS, "Close the wrapped file."},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(wrapper_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(wrapper_dealloc)},
    {Py_tp_iter, reinterpret_cast<void*>(iter_self)},
    {Py_tp_iternext, reinterpret_cast<void*>(wrapper_next)},
    {Py_tp_methods, methods},
    {0, nullptr},
};

PyType_Spec spec = {"hornbeam.FileWrapper", sizeof(FileWrapperObject), 0, Py_TPFLAGS_DEFAULT,
                    slots};

}  // namespace

PyRef make_file_wrapper_type() { return PyRef::steal(PyType_FromSpec(&spec)); }

PyObject* wrapped_file(PyObject* type, PyObject* object) {
  if (Py_TYPE(object) != reinterpret_cast<PyTypeObject*>(type)) return nullptr;
  return reinterpret_cast<FileWrapperObject*>(object)->filelike;
}

}  // namespace hornbeam::python
