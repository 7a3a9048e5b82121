#pragma once

// An awaitable that is already complete: `await ready` gives its value without suspending
// the task. ASGI's receive() and send() return one when nothing needs waiting for (the
// common case), which costs far less than a Future or a coroutine per call.

#include "python/py_ref.hpp"

namespace hornbeam::python {

// The type object (GIL held); create once per context.
PyRef make_ready_awaitable_type();
// A new awaitable that yields `value` (None when null).
PyRef make_ready(PyObject* type, PyObject* value);

}  // namespace hornbeam::python
