#pragma once

// An app that installs a handler for a signal the worker handles itself (SIGTERM, at import,
// for a graceful exit: a common pattern in apps written for containers) got CPython's
// "ValueError: signal only works in main thread of the main interpreter", and the worker
// failed to boot: hornbeam imports and runs apps on its context threads. Under Gunicorn, the
// same app replaces the worker's own handler and breaks its graceful stop.
//
// So in every interpreter of the worker, `signal.signal` for one of those signals installs
// nothing: it returns the handler in place, and one warning line (once per signal) tells
// what happens to that signal and where the app's exit code belongs (atexit, which runs when
// the worker stops). For any other signal it is CPython's own, with CPython's answer.

namespace hornbeam::python {

// GIL held, in the interpreter to prepare (the worker's, or a context's own), before the app.
void keep_the_workers_signals();

}  // namespace hornbeam::python
