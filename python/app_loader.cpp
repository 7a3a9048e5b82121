#include "python/app_loader.hpp"

#include "python/interpreter.hpp"

namespace hornbeam::python {

PyRef load_app(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string module_name = spec.substr(0, colon);
  const std::string path = colon == std::string::npos ? "application" : spec.substr(colon + 1);

  PyRef module = PyRef::steal(PyImport_ImportModule(module_name.c_str()));
  if (!module) {
    throw AppLoadError("cannot import module `" + module_name + "` of app `" + spec + "`:\n" +
                       take_exception_text());
  }
  PyRef object = module;
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
  if (!PyCallable_Check(object.get())) {
    throw AppLoadError("app `" + spec + "` is not callable");
  }
  return object;
}

}  // namespace hornbeam::python
