#include "python/interpreter.hpp"

#include "python/app_signals.hpp"
#include "python/py_ref.hpp"

#include "common/logging.hpp"

#include <spdlog/logger.h>

#include <unistd.h>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace hornbeam::python {
namespace {

void check_status(PyStatus status, PyConfig& config) {
  if (!PyStatus_Exception(status)) return;
  PyConfig_Clear(&config);
  throw std::runtime_error(std::string("cannot initialize Python: ") +
                           (status.err_msg ? status.err_msg : "unknown error"));
}

// venv/lib/python3.X/site-packages of the Python we embed.
std::string venv_site_packages(const std::string& venv) {
  return venv + "/lib/python" + std::to_string(PY_MAJOR_VERSION) + "." +
         std::to_string(PY_MINOR_VERSION) + "/site-packages";
}

void run_or_throw(const char* code) {
  PyRef globals = PyRef::steal(PyDict_New());
  PyRef result = PyRef::steal(PyRun_String(code, Py_file_input, globals.get(), globals.get()));
  if (!result) throw std::runtime_error(take_exception_text());
}

// A worker killed by a signal (a C extension's segfault) left only "was killed by SIGSEGV" in
// the arbiter's log, when where it happened is what the operator needs. faulthandler writes
// every thread's traceback from the signal handler, then lets the signal kill the worker as
// before (a core dump too). SIGABRT is the arbiter's timeout signal: the worker's server takes
// it over when it starts, and answers it with its own traceback dump.
void report_fatal_signals_to(int fd) {
  const std::string code = "import faulthandler\nfaulthandler.enable(file=" + std::to_string(fd) +
                           ", all_threads=True)\n";
  run_or_throw(code.c_str());
}

}  // namespace

void log_threads_the_exit_waits_for() {
  static constexpr const char* find = R"(
import sys
threading = sys.modules.get("threading")
names = [] if threading is None else [
    thread.name for thread in threading.enumerate()
    if type(thread) not in (threading._MainThread, threading._DummyThread)
    and not thread.daemon and thread.is_alive()]
)";
  PyRef globals = PyRef::steal(PyDict_New());
  PyRef done = PyRef::steal(PyRun_String(find, Py_file_input, globals.get(), globals.get()));
  PyObject* names = done ? PyDict_GetItemString(globals.get(), "names") : nullptr;  // borrowed
  if (!names || !PyList_Check(names) || PyList_GET_SIZE(names) == 0) {
    PyErr_Clear();
    return;
  }
  std::string listed;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); ++i)
    listed += (i ? ", " : "") + text_for_log(PyList_GET_ITEM(names, i));
  logging::error_log().warn(
      "waiting for {} thread(s) of the app that are not daemon threads to end before exiting "
      "(Python joins them): {}",
      PyList_GET_SIZE(names), listed);
}

namespace {

#if PY_VERSION_HEX >= 0x030C0000
// Own-GIL subinterpreters share the static C types of a few extension modules (datetime's in
// 3.13), and CPython readies such a type, and gives it the version tag that keys every
// interpreter's attribute cache, the first time an interpreter needs it, from a counter
// that no lock guards across GILs. Subinterpreters that first import datetime at once
// corrupt the heap (3.13.0: "free(): invalid pointer"), and two types that draw the same
// tag answer each other's lookups: pickling a date once raised "descriptor '__reduce_ex__'
// for 'datetime.datetime' objects doesn't apply to a 'datetime.date' object". So the main
// interpreter imports those modules first and tags every static type there is, alone.
void prepare_types_shared_by_interpreters() {
  for (const char* module : {"datetime"}) {
    PyRef imported = PyRef::steal(PyImport_ImportModule(module));
    if (!imported) PyErr_Clear();  // then no subinterpreter can import it either
  }
  std::vector<PyRef> pending{PyRef::borrow(reinterpret_cast<PyObject*>(&PyBaseObject_Type))};
  while (!pending.empty()) {
    PyRef type = std::move(pending.back());
    pending.pop_back();
    auto* as_type = reinterpret_cast<PyTypeObject*>(type.get());
    if (!(PyType_GetFlags(as_type) & Py_TPFLAGS_HEAPTYPE))
      PyUnstable_Type_AssignVersionTag(as_type);
    PyRef subclasses = PyRef::steal(PyObject_CallMethod(reinterpret_cast<PyObject*>(&PyType_Type),
                                                        "__subclasses__", "O", type.get()));
    if (!subclasses) {
      PyErr_Clear();
      continue;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(subclasses.get()); ++i)
      pending.push_back(PyRef::borrow(PyList_GET_ITEM(subclasses.get(), i)));
  }
}
#endif

}  // namespace

void apply_path_options(const InterpreterOptions& options) {
  PyObject* sys_path = PySys_GetObject("path");  // borrowed
  for (auto entry = options.pythonpath.rbegin(); entry != options.pythonpath.rend(); ++entry) {
    PyRef text = PyRef::steal(PyUnicode_DecodeFSDefault(entry->c_str()));
    if (!text || PyList_Insert(sys_path, 0, text.get()) != 0)
      throw std::runtime_error(take_exception_text());
  }
  if (options.venv.empty()) return;
  const std::string site = venv_site_packages(options.venv);
  if (!std::filesystem::is_directory(site)) {
    throw std::runtime_error("venv " + options.venv + " has no " + site +
                             " (is it a virtualenv of Python " + std::to_string(PY_MAJOR_VERSION) +
                             "." + std::to_string(PY_MINOR_VERSION) + "?)");
  }
  // addsitedir also processes .pth files, as activating the venv would.
  const std::string code = "import site, sys\nsys.prefix = " + std::string("'") + options.venv +
                           "'\nsite.addsitedir('" + site + "')\n";
  run_or_throw(code.c_str());
}

Interpreter::Interpreter(const InterpreterOptions& options) : options_(options) {
  if (!options.chdir.empty() && ::chdir(options.chdir.c_str()) != 0) {
    throw std::runtime_error("cannot change to directory " + options.chdir);
  }
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0;  // the worker owns SIGTERM/SIGINT
  config.parse_argv = 0;
  // Without this sys.executable would be whatever `python3` PATH finds (a pyenv shim here),
  // and subprocess/multiprocessing in the app would start the wrong Python.
  check_status(PyConfig_SetBytesString(&config, &config.program_name, HORNBEAM_PYTHON_EXECUTABLE),
               config);
  check_status(Py_InitializeFromConfig(&config), config);
  PyConfig_Clear(&config);

  try {
    apply_path_options(options);
    keep_the_workers_signals();
    for (const auto& module : options.preload) {
      PyRef imported = PyRef::steal(PyImport_ImportModule(module.c_str()));
      if (!imported) PyErr_Clear();  // optional: whoever needs it reports its absence
    }
#if PY_VERSION_HEX >= 0x030C0000
    if (options.own_gil_contexts) prepare_types_shared_by_interpreters();
#endif
    if (options.crash_report_fd >= 0) report_fatal_signals_to(options.crash_report_fd);
  } catch (...) {
    Py_FinalizeEx();
    throw;
  }
  state_ = PyInterpreterState_Get();
  main_thread_ = PyEval_SaveThread();
}

Interpreter::~Interpreter() {
  PyEval_RestoreThread(main_thread_);
  log_threads_the_exit_waits_for();
  Py_FinalizeEx();
}

std::string text_for_log(PyObject* text) {
  if (!text || !PyUnicode_Check(text)) return {};
  PyRef bytes = PyRef::steal(PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace"));
  if (!bytes) {
    PyErr_Clear();
    return {};
  }
  return {PyBytes_AS_STRING(bytes.get()), static_cast<std::size_t>(PyBytes_GET_SIZE(bytes.get()))};
}

std::string take_exception_text() {
  PyObject* raw_type = nullptr;
  PyObject* raw_value = nullptr;
  PyObject* raw_traceback = nullptr;
  PyErr_Fetch(&raw_type, &raw_value, &raw_traceback);
  if (!raw_type) return "unknown Python error";
  PyErr_NormalizeException(&raw_type, &raw_value, &raw_traceback);
  PyRef type = PyRef::steal(raw_type);
  PyRef value = PyRef::steal(raw_value);
  PyRef traceback = PyRef::steal(raw_traceback);

  PyRef module = PyRef::steal(PyImport_ImportModule("traceback"));
  PyRef lines;
  if (module) {
    lines = PyRef::steal(PyObject_CallMethod(module.get(), "format_exception", "OOO", type.get(),
                                             value ? value.get() : Py_None,
                                             traceback ? traceback.get() : Py_None));
  }
  std::string out;
  if (lines && PyList_Check(lines.get())) {
    for (Py_ssize_t i = 0; i < PyList_Size(lines.get()); ++i) {
      out += text_for_log(PyList_GetItem(lines.get(), i));
    }
  } else {
    PyErr_Clear();
    PyRef text = PyRef::steal(PyObject_Str(value ? value.get() : type.get()));
    out = text ? text_for_log(text.get()) : std::string();
    if (out.empty()) out = "unprintable Python error";
  }
  PyErr_Clear();
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace hornbeam::python
