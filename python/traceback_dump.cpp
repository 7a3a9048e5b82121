#include "python/traceback_dump.hpp"

#include "common/unique_fd.hpp"
#include "python/interpreter.hpp"

#include <sys/mman.h>
#include <unistd.h>

// Exported by libpython (faulthandler's engine); its header is internal to CPython.
extern "C" const char* _Py_DumpTracebackThreads(int fd, PyInterpreterState* interp,
                                                PyThreadState* current_tstate);

namespace hornbeam::python {

std::string dump_thread_tracebacks(const Interpreter& interpreter) {
  // The dumper writes to an fd with write(2); a memfd collects it without a size limit.
  UniqueFd out(::memfd_create("hornbeam-tracebacks", MFD_CLOEXEC));
  if (!out) return "(tracebacks unavailable: memfd_create failed)";
  if (const char* error = _Py_DumpTracebackThreads(out.get(), interpreter.state(), nullptr)) {
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
