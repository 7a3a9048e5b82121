#pragma once

// wsgi.file_wrapper (PEP 3333 "optional platform-specific file handling"): an iterable over a
// file-like object that the adapter can recognise and send with sendfile(2) instead.

#include "python/py_ref.hpp"

#include <optional>

namespace hornbeam::python {

// The type object (GIL held). Create once per context; it is what apps call.
PyRef make_file_wrapper_type();

// The wrapped file-like object when `object` is an instance of `type`, else null (borrowed).
PyObject* wrapped_file(PyObject* type, PyObject* object);

}  // namespace hornbeam::python
