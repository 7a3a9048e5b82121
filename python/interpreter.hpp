#pragma once

// The embedded CPython of a worker: initialized once at boot, finalized at exit.

#include <Python.h>

#include <string>
#include <vector>

namespace hornbeam::python {

struct InterpreterOptions {
  std::vector<std::string> pythonpath;  // prepended to sys.path, in order
  std::string venv;                     // its site-packages become importable ("" = none)
  std::string chdir;                    // working directory of the app ("" = unchanged)
  // Imported on the main thread at start when importable (uvloop records the importing
  // thread as the main one, and would then try to own signals from a context thread).
  std::vector<std::string> preload;
  // Contexts run in subinterpreters with a GIL of their own (context_mode: owngil), each
  // with pythonpath and venv applied.
  bool own_gil_contexts = false;
  // Where Python's faulthandler writes every thread's traceback when a fatal signal (SIGSEGV,
  // SIGBUS, SIGFPE, SIGILL) kills the worker: the error log's descriptor; -1: nowhere.
  int crash_report_fd = -1;
};

// Applies `pythonpath` and `venv` to the current interpreter's sys.path (GIL held). Throws
// std::runtime_error with Python's message.
void apply_path_options(const InterpreterOptions& options);

// Initializes Python (signals stay ours), applies the options, then releases the GIL so that
// context threads can take it. Throws std::runtime_error with Python's message on failure.
class Interpreter {
 public:
  explicit Interpreter(const InterpreterOptions& options);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  PyInterpreterState* state() const { return state_; }
  const InterpreterOptions& options() const { return options_; }

  // Holds the GIL with the main thread's state for the scope: the thread that made the
  // Interpreter (the worker's I/O thread) runs Python at boot and at exit through this.
  class OnMainThread {
   public:
    explicit OnMainThread(Interpreter& interpreter) : interpreter_(interpreter) {
      PyEval_RestoreThread(interpreter_.main_thread_);
    }
    ~OnMainThread() { interpreter_.main_thread_ = PyEval_SaveThread(); }
    OnMainThread(const OnMainThread&) = delete;
    OnMainThread& operator=(const OnMainThread&) = delete;

   private:
    Interpreter& interpreter_;
  };

 private:
  InterpreterOptions options_;
  PyThreadState* main_thread_ = nullptr;
  PyInterpreterState* state_ = nullptr;
};

// Before an interpreter ends (Py_FinalizeEx, Py_EndInterpreter), which joins the threads the
// app started without daemon=True (threading._shutdown): one that never ends holds the
// worker's exit until the arbiter kills it, graceful_timeout later. One warning names them,
// if there are any. Call with the interpreter's GIL held.
void log_threads_the_exit_waits_for();

// The pending Python exception as "Traceback (most recent call last): ...", cleared.
// Call with the GIL held.
std::string take_exception_text();

// A str as UTF-8 for a log line, never failing: what UTF-8 cannot carry (lone surrogates, such
// as the surrogateescape'd bytes of a request path) comes out as \udcXX. "" for a non-str.
// Call with the GIL held.
std::string text_for_log(PyObject* text);

}  // namespace hornbeam::python
