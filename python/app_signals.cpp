#include "python/app_signals.hpp"

#include "common/logging.hpp"
#include "python/interpreter.hpp"
#include "python/py_ref.hpp"

#include <spdlog/logger.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace hornbeam::python {

namespace {

// What the worker (or its arbiter, which the worker's pid does not stand for) does with it.
const char* workers_use_of(long number) {
  switch (number) {
    case SIGTERM: return "a graceful stop";
    case SIGINT:
    case SIGQUIT: return "a fast stop";
    case SIGUSR1: return "reopening the log files";
    case SIGABRT: return "the arbiter's timeout";
    case SIGHUP: return "a reload, sent to the arbiter";
    default: return nullptr;
  }
}

// One warning per signal and process, however many contexts import the app.
std::atomic<std::uint64_t> warned{0};

void warn_once(long number, const char* use) {
  const std::uint64_t bit = std::uint64_t{1} << number;
  if (warned.fetch_or(bit, std::memory_order_relaxed) & bit) return;
  const char* name = sigabbrev_np(static_cast<int>(number));
  logging::error_log().warn(
      "the app's handler for SIG{} (signal.signal) is not installed: hornbeam handles SIG{} "
      "itself ({}); code to run when the worker stops belongs in an atexit function",
      name, name, use);
}

// signal.signal as the app sees it; `original` is CPython's.
PyObject* app_signal(PyObject* original, PyObject* const* args, Py_ssize_t count) {
  if (count == 2 && PyLong_Check(args[0])) {
    const long number = PyLong_AsLong(args[0]);
    if (number == -1 && PyErr_Occurred()) return nullptr;
    if (const char* use = workers_use_of(number)) {
      warn_once(number, use);
      PyRef module = PyRef::steal(PyImport_ImportModule("signal"));
      if (!module) return nullptr;
      return PyObject_CallMethod(module.get(), "getsignal", "l", number);
    }
  }
  return PyObject_Vectorcall(original, args, static_cast<std::size_t>(count), nullptr);
}

PyMethodDef app_signal_definition = {
    "signal", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(app_signal)),
    METH_FASTCALL,
    "signal.signal, except for the signals hornbeam's worker handles itself (a warning, and "
    "the handler in place is returned)."};

}  // namespace

void keep_the_workers_signals() {
  PyRef module = PyRef::steal(PyImport_ImportModule("signal"));
  PyRef original = module ? PyRef::steal(PyObject_GetAttrString(module.get(), "signal")) : PyRef();
  PyRef replacement =
      original ? PyRef::steal(PyCFunction_NewEx(&app_signal_definition, original.get(), nullptr))
               : PyRef();
  if (!replacement || PyObject_SetAttrString(module.get(), "signal", replacement.get()) != 0)
    throw std::runtime_error("cannot prepare the signal module: " + take_exception_text());
}

}  // namespace hornbeam::python
