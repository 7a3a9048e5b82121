#include "python/sub_interpreter.hpp"

#include "python/app_signals.hpp"
#include "python/interpreter.hpp"

#include <stdexcept>
#include <string>

namespace hornbeam::python {

#if PY_VERSION_HEX >= 0x030C0000

namespace {

// Ends a thread state of the main interpreter that this thread made only to create the
// subinterpreter (holding no GIL).
void delete_main_thread_state(PyThreadState* state) {
  PyEval_RestoreThread(state);
  PyThreadState_Clear(state);
  PyThreadState_DeleteCurrent();
}

}  // namespace

SubInterpreter::SubInterpreter(PyInterpreterState* main, const InterpreterOptions& options) {
  PyThreadState* main_thread = PyThreadState_New(main);
  PyEval_RestoreThread(main_thread);
  PyInterpreterConfig config{};
  config.use_main_obmalloc = 0;  // required by a GIL of its own
  config.allow_fork = 0;         // a fork from one of several running interpreters is unsafe
  config.allow_exec = 1;         // subprocess (fork + exec) works as in the main interpreter
  config.allow_threads = 1;
  // Py_EndInterpreter joins the subinterpreter's threads; a daemon thread is never joined.
  config.allow_daemon_threads = 0;
  // An extension module that does not declare support fails its import (with the module's
  // name) instead of sharing its C state between interpreters.
  config.check_multi_interp_extensions = 1;
  config.gil = PyInterpreterConfig_OWN_GIL;
  const PyStatus status = Py_NewInterpreterFromConfig(&thread_state_, &config);
  if (PyStatus_Exception(status)) {
    // Python put the main thread state back, holding its GIL.
    PyThreadState_Clear(main_thread);
    PyThreadState_DeleteCurrent();
    throw std::runtime_error(std::string("cannot create a subinterpreter: ") +
                             (status.err_msg ? status.err_msg : "unknown error"));
  }
  // The subinterpreter's thread state is current, holding its own GIL; the main one's GIL was
  // released with main_thread detached.
  try {
    apply_path_options(options);
    keep_the_workers_signals();
  } catch (...) {
    Py_EndInterpreter(thread_state_);
    delete_main_thread_state(main_thread);
    throw;
  }
  PyEval_SaveThread();
  delete_main_thread_state(main_thread);
}

SubInterpreter::~SubInterpreter() {
  PyEval_RestoreThread(thread_state_);
  log_threads_the_exit_waits_for();
  Py_EndInterpreter(thread_state_);  // leaves no thread state current
}

#else

SubInterpreter::SubInterpreter(PyInterpreterState*, const InterpreterOptions&) {
  throw std::runtime_error(
      "own-GIL subinterpreters need Python 3.12 or newer; this build embeds "
      "Python " PY_VERSION);
}

SubInterpreter::~SubInterpreter() = default;

#endif

}  // namespace hornbeam::python
