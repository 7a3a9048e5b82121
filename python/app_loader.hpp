#pragma once

// Imports `module:callable` and returns the callable, as the server calls it.

#include "python/py_ref.hpp"

#include <stdexcept>
#include <string>

namespace hornbeam::python {

// The app could not be loaded; what() says which part failed, with the traceback of an
// import error. The worker exits with exit_code::app_load_error on it.
class AppLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `module` alone means `module:application`. `module:create_app(ARGS)` is an app factory, as
// Gunicorn reads it: called with ARGS (Python literals) once per interpreter. Call with the
// GIL held.
PyRef load_app(const std::string& spec);

// The app a `worker_class: wsgi` app serves. Throws AppLoadError, naming `worker_class`, for
// an app that WSGI's call could never work with (an `async def` ASGI app).
PyRef load_wsgi_app(const std::string& spec);

// The app a `worker_class: asgi` app serves, as an ASGI 3 callable: an ASGI 2 ("double
// callable") app comes adapted. Throws AppLoadError for an app that takes environ and
// start_response (a WSGI app).
PyRef load_asgi_app(const std::string& spec);

}  // namespace hornbeam::python
