#include "python/traceback_dump.hpp"

#if PY_VERSION_HEX < 0x030D0000

#include "common/unique_fd.hpp"

#include <sys/mman.h>
#include <unistd.h>

// Exported by libpython up to 3.12 (faulthandler's engine); its header is internal to CPython.
extern "C" const char* _Py_DumpTracebackThreads(int fd, PyInterpreterState* interp,
                                                PyThreadState* current_tstate);

namespace hornbeam::python {

std::string dump_thread_tracebacks(PyInterpreterState* interpreter, std::chrono::milliseconds) {
  // The dumper writes to an fd with write(2); a memfd collects it without a size limit.
  UniqueFd out(::memfd_create("hornbeam-tracebacks", MFD_CLOEXEC));
  if (!out) return "(tracebacks unavailable: memfd_create failed)";
  if (const char* error = _Py_DumpTracebackThreads(out.get(), interpreter, nullptr)) {
    return std::string("(tracebacks unavailable: ") + error + ")";
  }
  std::string text;
  char buffer[4096];
  ::lseek(out.get(), 0, SEEK_SET);
  for (ssize_t n; (n = ::read(out.get(), buffer, sizeof buffer)) > 0;)
    text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

}  // namespace hornbeam::python

#else

#include "python/interpreter.hpp"
#include "python/py_ref.hpp"

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

namespace hornbeam::python {
namespace {

// Python 3.13 keeps faulthandler's engine to itself, and its faulthandler module refuses
// subinterpreters: the threads are walked here with the public frame API, which needs the
// interpreter's GIL, which a stuck context holds. Running Python code gives the GIL up to a
// thread that asks for it (at its next switch interval); code stuck inside C that holds it
// never does, so the helper thread that asks is given `wait` and then left behind (the worker
// exits right after).
struct Dump {
  std::mutex mutex;
  std::condition_variable changed;
  bool done = false;
  std::string text;
};

// faulthandler's format: "Thread 0x... (most recent call first):" and a line per frame.
std::string thread_frames(PyThreadState* thread) {
  char header[80];
  std::snprintf(header, sizeof header, "Thread 0x%016lx (most recent call first):\n",
                thread->thread_id);
  std::string text = header;
  PyFrameObject* frame = PyThreadState_GetFrame(thread);  // a new reference, or null
  if (!frame) text += "  <no Python frame>\n";
  for (int depth = 0; frame; ++depth) {
    if (depth == 100) {
      text += "  ...\n";
      Py_DECREF(frame);
      break;
    }
    PyRef code = PyRef::steal(reinterpret_cast<PyObject*>(PyFrame_GetCode(frame)));
    PyRef file = PyRef::steal(PyObject_GetAttrString(code.get(), "co_filename"));
    PyRef name = PyRef::steal(PyObject_GetAttrString(code.get(), "co_name"));
    PyErr_Clear();
    text += "  File \"" + text_for_log(file.get()) + "\", line " +
            std::to_string(PyFrame_GetLineNumber(frame)) + " in " + text_for_log(name.get()) + "\n";
    PyFrameObject* back = PyFrame_GetBack(frame);
    Py_DECREF(frame);
    frame = back;
  }
  return text;
}

void dump_holding_the_gil(PyInterpreterState* interpreter, std::shared_ptr<Dump> dump) {
  PyThreadState* self = PyThreadState_New(interpreter);
  PyEval_RestoreThread(self);
  std::string text;
  for (PyThreadState* thread = PyInterpreterState_ThreadHead(interpreter); thread;
       thread = PyThreadState_Next(thread)) {
    if (thread == self) continue;
    if (!text.empty()) text += "\n";
    text += thread_frames(thread);
  }
  PyThreadState_Clear(self);
  PyThreadState_DeleteCurrent();
  std::lock_guard lock(dump->mutex);
  dump->text = std::move(text);
  dump->done = true;
  dump->changed.notify_all();
}

}  // namespace

std::string dump_thread_tracebacks(PyInterpreterState* interpreter,
                                   std::chrono::milliseconds wait) {
  auto dump = std::make_shared<Dump>();
  std::thread(dump_holding_the_gil, interpreter, dump).detach();
  std::unique_lock lock(dump->mutex);
  if (!dump->changed.wait_for(lock, wait, [&] { return dump->done; })) {
    return "(no tracebacks: a thread held the interpreter's lock for " +
           std::to_string(wait.count()) +
           " ms without giving it up, as code stuck inside C "
           "does)\n";
  }
  return dump->text;
}

}  // namespace hornbeam::python

#endif
