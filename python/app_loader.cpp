#include "python/app_loader.hpp"

#include "python/embedded_module.hpp"
#include "python/interpreter.hpp"

namespace hornbeam::python {

extern const char* const app_glue_source;  // python/app_glue.py, compiled in (CMake)

namespace {

PyRef app_glue() {
  return load_embedded_module("_hornbeam_app", app_glue_source, "hornbeam/app_glue.py");
}

// The error a glue call raised: its message alone for the glue's SpecError (it says it all),
// the traceback for anything else (an app's factory that failed).
std::string glue_error_text(PyObject* glue) {
  PyObject* raw_type = nullptr;
  PyObject* raw_value = nullptr;
  PyObject* raw_traceback = nullptr;
  PyErr_Fetch(&raw_type, &raw_value, &raw_traceback);  // no other call may run with it set
  PyErr_NormalizeException(&raw_type, &raw_value, &raw_traceback);
  PyRef type = PyRef::steal(raw_type);
  PyRef value = PyRef::steal(raw_value);
  PyRef traceback = PyRef::steal(raw_traceback);
  PyRef spec_error = PyRef::steal(PyObject_GetAttrString(glue, "SpecError"));
  if (spec_error && value && PyObject_IsInstance(value.get(), spec_error.get()) == 1) {
    PyRef text = PyRef::steal(PyObject_Str(value.get()));
    if (text) return text_for_log(text.get());
  }
  PyErr_Clear();
  PyErr_Restore(type.release(), value.release(), traceback.release());
  return take_exception_text();
}

PyRef import_module_of(const std::string& module_name, const std::string& spec) {
  PyRef module = PyRef::steal(PyImport_ImportModule(module_name.c_str()));
  if (!module) {
    throw AppLoadError("cannot import module `" + module_name + "` of app `" + spec + "`:\n" +
                       take_exception_text());
  }
  return module;
}

// `path` (dotted) looked up from `module`.
PyRef attribute_path(PyRef object, const std::string& module_name, const std::string& path,
                     const std::string& spec) {
  std::string reached = module_name;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto dot = path.find('.', start);
    const std::string name =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    PyRef next = PyRef::steal(PyObject_GetAttrString(object.get(), name.c_str()));
    if (!next) {
      PyErr_Clear();
      throw AppLoadError("app `" + spec + "`: `" + reached + "` has no attribute `" + name + "`");
    }
    object = std::move(next);
    reached += (reached == module_name ? ":" : ".") + name;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return object;
}

// The glue's verdict on an app: None, or why the server cannot call it as configured.
void throw_if_problem(PyObject* problem) {
  if (problem && problem != Py_None) throw AppLoadError(text_for_log(problem));
}

}  // namespace

PyRef load_app(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string module_name = spec.substr(0, colon);
  std::string path = colon == std::string::npos ? "application" : spec.substr(colon + 1);
  const auto call_at = path.find('(');
  const std::string call = call_at == std::string::npos ? "" : path.substr(call_at);
  path.resize(std::min(call_at, path.size()));

  PyRef object = attribute_path(import_module_of(module_name, spec), module_name, path, spec);
  if (!call.empty()) {
    PyRef glue = app_glue();
    object = PyRef::steal(PyObject_CallMethod(glue.get(), "made_by_factory", "Oss", object.get(),
                                              call.c_str(), spec.c_str()));
    if (!object) throw AppLoadError("app `" + spec + "`: " + glue_error_text(glue.get()));
  }
  if (!PyCallable_Check(object.get())) {
    throw AppLoadError("app `" + spec + "` is not callable");
  }
  return object;
}

PyRef load_wsgi_app(const std::string& spec) {
  PyRef app = load_app(spec);
  PyRef glue = app_glue();
  PyRef problem =
      PyRef::steal(PyObject_CallMethod(glue.get(), "wsgi_problem", "Os", app.get(), spec.c_str()));
  if (!problem) throw AppLoadError("app `" + spec + "`: " + take_exception_text());
  throw_if_problem(problem.get());
  return app;
}

PyRef load_asgi_app(const std::string& spec) {
  PyRef app = load_app(spec);
  PyRef glue = app_glue();
  PyRef verdict =
      PyRef::steal(PyObject_CallMethod(glue.get(), "as_asgi3", "Os", app.get(), spec.c_str()));
  if (!verdict || !PyTuple_Check(verdict.get()) || PyTuple_Size(verdict.get()) != 2)
    throw AppLoadError("app `" + spec + "`: " + take_exception_text());
  throw_if_problem(PyTuple_GetItem(verdict.get(), 1));
  return PyRef::borrow(PyTuple_GetItem(verdict.get(), 0));
}

}  // namespace hornbeam::python
