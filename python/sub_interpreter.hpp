#pragma once

// A subinterpreter with a GIL of its own (`context_mode: owngil`): the Python code of each
// context runs in parallel with the others' on its own core, in one worker process. Made and
// ended on the one thread that runs it.

#include <Python.h>

namespace hornbeam::python {

struct InterpreterOptions;

// Whether this build's Python has own-GIL subinterpreters (3.12 and newer).
constexpr bool has_own_gil_subinterpreters = PY_VERSION_HEX >= 0x030C0000;

class SubInterpreter {
 public:
  // On the context's thread, holding no GIL: makes the subinterpreter (through a thread state
  // of `main`, whose GIL it takes for that moment), applies the options (sys.path, venv) in it,
  // and leaves it detached. Throws std::runtime_error with Python's reason on failure.
  SubInterpreter(PyInterpreterState* main, const InterpreterOptions& options);
  // On the same thread, holding no GIL: ends the subinterpreter (its modules, its threads
  // joined).
  ~SubInterpreter();
  SubInterpreter(const SubInterpreter&) = delete;
  SubInterpreter& operator=(const SubInterpreter&) = delete;

  // The thread state to attach (python::Attached) to run Python in it.
  PyThreadState* thread_state() const { return thread_state_; }
  PyInterpreterState* state() const { return PyThreadState_GetInterpreter(thread_state_); }

 private:
  PyThreadState* thread_state_ = nullptr;
};

}  // namespace hornbeam::python
