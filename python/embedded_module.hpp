#pragma once

// The worker's own Python modules (python/*_glue.py), compiled into the binary by CMake and
// run as fresh module objects, never put in sys.modules: contexts boot side by side and a
// module's imports release the GIL, so a shared instance could be seen half-initialized.

#include "python/py_ref.hpp"

namespace hornbeam::python {

// A new module named `name` with `source` run in it (GIL held). Throws std::runtime_error with
// the traceback when it fails.
PyRef load_embedded_module(const char* name, const char* source, const char* filename);

}  // namespace hornbeam::python
