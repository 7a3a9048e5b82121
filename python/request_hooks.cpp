#include "python/request_hooks.hpp"

#include "python/app_loader.hpp"
#include "python/embedded_module.hpp"
#include "python/interpreter.hpp"

namespace hornbeam::python {

extern const char* const hooks_glue_source;  // python/hooks_glue.py, compiled in (CMake)

namespace {

PyRef hook(const std::string& spec) {
  return spec.empty() ? PyRef::borrow(Py_None) : load_app(spec);
}

}  // namespace

PyRef with_request_hooks(PyRef app, bool asgi, const std::string& prefix,
                         const config::Hooks& hooks) {
  if (hooks.on_request.empty() && hooks.on_response.empty() && hooks.on_error.empty()) return app;
  PyRef glue = load_embedded_module("_hornbeam_hooks", hooks_glue_source, "hornbeam/hooks_glue.py");
  PyRef on_request = hook(hooks.on_request);
  PyRef on_response = hook(hooks.on_response);
  PyRef on_error = hook(hooks.on_error);
  PyRef wrapped = PyRef::steal(PyObject_CallMethod(
      glue.get(), asgi ? "wrap_asgi" : "wrap_wsgi", "OsOOO", app.get(),
      prefix == "/" ? "" : prefix.c_str(), on_request.get(), on_response.get(), on_error.get()));
  if (!wrapped) throw AppLoadError("cannot apply the request hooks: " + take_exception_text());
  return wrapped;
}

}  // namespace hornbeam::python
