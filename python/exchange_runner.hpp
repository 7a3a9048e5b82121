#pragma once

// What an ASGI request's Task runs: a coroutine written in C that calls
// app(scope, receive, send) at its first step, passes every step on to the app's awaitable,
// and gives the outcome to the exchange: app_returned(), or app_failed() with the formatted
// traceback (None when the task was cancelled). An app's Exception ends there (the exchange
// answers 500 and logs it); a cancellation, SystemExit or KeyboardInterrupt goes on to the
// Task after the exchange heard of it. At the end the exchange leaves the runtime's `running`
// set.
//
// It replaces a wrapper coroutine in Python (asgi_glue.py had `run_exchange`): a Python frame
// and its method calls less per request (0.8 k of an ASGI hello world's 44 k instructions,
// docs/performance.md). The app is still called inside the Task's first step, so that what it
// does when called (a class-based app, middleware) runs in the task's context, as under any
// ASGI server.

#include "python/py_ref.hpp"

#include <memory>

namespace hornbeam::python {

struct AsgiRuntime;

// The type object (GIL held); create once per context.
PyRef make_exchange_runner_type();
// A new runner of `app` for `exchange` (an HttpExchange or WebSocketExchange object).
PyRef make_exchange_runner(const std::shared_ptr<AsgiRuntime>& runtime, PyObject* app,
                           PyObject* scope, PyObject* exchange);

}  // namespace hornbeam::python
