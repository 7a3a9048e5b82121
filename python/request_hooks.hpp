#pragma once

// hooks.on_request, hooks.on_response and hooks.on_error around an app (python/hooks_glue.py
// does the work). Without hooks an app runs as it is: no wrapper, no cost.

#include "config/config.hpp"
#include "python/py_ref.hpp"

#include <string>

namespace hornbeam::python {

// `app`, wrapped with the hooks `hooks` names when it names any (GIL held, in the context that
// will run it). `prefix` is the app's mount ("/" at the root). Throws AppLoadError when a hook
// cannot be imported, as for the app itself.
PyRef with_request_hooks(PyRef app, bool asgi, const std::string& prefix,
                         const config::Hooks& hooks);

}  // namespace hornbeam::python
