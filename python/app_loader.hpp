#pragma once

// Imports `module:callable` and returns the callable.

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

// `module` alone means `module:application`. Call with the GIL held.
PyRef load_app(const std::string& spec);

}  // namespace hornbeam::python
