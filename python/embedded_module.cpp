#include "python/embedded_module.hpp"

#include "python/interpreter.hpp"

#include <stdexcept>
#include <string>

namespace hornbeam::python {

PyRef load_embedded_module(const char* name, const char* source, const char* filename) {
  const auto failed = [&](const char* what) {
    return std::runtime_error(std::string("cannot ") + what + " " + filename + ": " +
                              take_exception_text());
  };
  PyRef module = PyRef::steal(PyModule_New(name));
  if (!module) throw failed("create");
  PyObject* globals = PyModule_GetDict(module.get());  // borrowed
  if (PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) != 0)
    throw failed("create");
  PyRef code = PyRef::steal(Py_CompileString(source, filename, Py_file_input));
  if (!code) throw failed("compile");
  if (!PyRef::steal(PyEval_EvalCode(code.get(), globals, globals))) throw failed("load");
  return module;
}

}  // namespace hornbeam::python
