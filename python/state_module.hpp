#pragma once

// The `hornbeam` module apps import inside the server: the shared state (state_get,
// state_set, state_incr...) on its backend (the store all workers map, or Redis), and
// `hornbeam_erlang`, the same functions under the Erlang Hornbeam's name. Built in: no file to
// install or find, and it wins over a `hornbeam` package on sys.path (the process-local one for
// tests outside).

#include <cstddef>

namespace hornbeam::python {

class StateBackend;

// Before the interpreter starts (it registers built-in modules). `backend` outlives Python.
void register_state_module(StateBackend& backend);

// Raises hornbeam.BadRequestBody (an OSError) with `message`: the request's body is malformed
// (GIL held). Returns null, for `return raise_bad_request_body(...)`.
std::nullptr_t raise_bad_request_body(const char* message);

}  // namespace hornbeam::python
