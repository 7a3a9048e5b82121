#pragma once

// RAII for every change of GIL ownership.

#include <Python.h>

namespace hornbeam::python {

// Releases the GIL for a blocking wait (network, queue) and takes it back on scope exit.
class GilRelease {
 public:
  GilRelease() : state_(PyEval_SaveThread()) {}
  ~GilRelease() { PyEval_RestoreThread(state_); }
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

 private:
  PyThreadState* state_;
};

// Holds the GIL with `state` (a thread state of this OS thread) for the scope.
class Attached {
 public:
  explicit Attached(PyThreadState* state) { PyEval_RestoreThread(state); }
  ~Attached() { PyEval_SaveThread(); }
  Attached(const Attached&) = delete;
  Attached& operator=(const Attached&) = delete;
};

// A long-lived Python thread state owned by one OS thread (a context). Created once, so that
// threading.local and contextvars keep their values across requests; the GIL is held only
// inside Attached scopes.
class ThreadState {
 public:
  // Must be called from the thread that will use it, with `interpreter` initialized.
  explicit ThreadState(PyInterpreterState* interpreter) : state_(PyThreadState_New(interpreter)) {}
  ~ThreadState() {
    PyEval_RestoreThread(state_);
    PyThreadState_Clear(state_);
    PyThreadState_DeleteCurrent();
  }
  ThreadState(const ThreadState&) = delete;
  ThreadState& operator=(const ThreadState&) = delete;

  PyThreadState* get() const { return state_; }

 private:
  PyThreadState* state_;
};

}  // namespace hornbeam::python
