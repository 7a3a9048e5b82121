#pragma once

// wsgi.input for bodies that stream (PEP 3333: read, readline, readlines, iteration). The GIL
// is released while waiting for the network. Buffered bodies use io.BytesIO instead.

#include "common/http_exchange.hpp"
#include "python/py_ref.hpp"

#include <memory>

namespace hornbeam::python {

// The type object (GIL held). Create once per context.
PyRef make_input_type();
PyRef make_input(PyObject* type, std::shared_ptr<RequestBodySource> source);

}  // namespace hornbeam::python
