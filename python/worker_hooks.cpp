#include "python/worker_hooks.hpp"

#include "common/logging.hpp"
#include "python/app_loader.hpp"

#include <spdlog/logger.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace hornbeam::python {
namespace {

PyRef optional_hook(const std::string& spec) { return spec.empty() ? PyRef() : load_app(spec); }

PyRef number_or_none(const std::optional<std::uint64_t>& value) {
  return value ? PyRef::steal(PyLong_FromUnsignedLongLong(*value)) : PyRef::borrow(Py_None);
}

}  // namespace

WorkerHooks::WorkerHooks(Interpreter& interpreter, const config::Hooks& hooks,
                         const WorkerIdentity& worker)
    : interpreter_(interpreter) {
  Interpreter::OnMainThread gil(interpreter_);
  post_worker_init_ = optional_hook(hooks.post_worker_init);
  worker_exit_ = optional_hook(hooks.worker_exit);
  worker_abort_ = optional_hook(hooks.worker_abort);
  PyRef types = PyRef::steal(PyImport_ImportModule("types"));
  PyRef namespace_type =
      types ? PyRef::steal(PyObject_GetAttrString(types.get(), "SimpleNamespace")) : PyRef();
  PyRef fields = PyRef::steal(PyDict_New());
  const auto set = [&](const char* key, PyRef value) {
    return value && PyDict_SetItemString(fields.get(), key, value.get()) == 0;
  };
  if (!namespace_type || !fields || !set("pid", PyRef::steal(PyLong_FromLong(worker.pid))) ||
      !set("generation", number_or_none(worker.generation)) ||
      !set("slot", number_or_none(worker.slot)) ||
      !set("contexts", PyRef::steal(PyLong_FromLong(worker.contexts)))) {
    throw std::runtime_error("cannot describe the worker to its hooks: " + take_exception_text());
  }
  PyRef no_arguments = PyRef::steal(PyTuple_New(0));
  worker_ = PyRef::steal(PyObject_Call(namespace_type.get(), no_arguments.get(), fields.get()));
  if (!worker_) throw std::runtime_error("cannot describe the worker: " + take_exception_text());
}

WorkerHooks::~WorkerHooks() {
  Interpreter::OnMainThread gil(interpreter_);
  worker_ = PyRef();
  post_worker_init_ = worker_exit_ = worker_abort_ = PyRef();
}

void WorkerHooks::post_worker_init() {
  if (!post_worker_init_) return;
  Interpreter::OnMainThread gil(interpreter_);
  PyRef result = PyRef::steal(PyObject_CallOneArg(post_worker_init_.get(), worker_.get()));
  if (!result) throw std::runtime_error("hooks.post_worker_init raised:\n" + take_exception_text());
}

void WorkerHooks::worker_exit() {
  if (!worker_exit_) return;
  Interpreter::OnMainThread gil(interpreter_);
  call(worker_exit_, "worker_exit");
}

void WorkerHooks::call(const PyRef& hook, const char* name) {
  PyRef result = PyRef::steal(PyObject_CallOneArg(hook.get(), worker_.get()));
  if (!result) {
    logging::error_log().error("hooks.{} raised:\n{}", name, take_exception_text());
  }
}

void WorkerHooks::worker_abort(std::chrono::milliseconds patience) {
  if (!worker_abort_) return;
  struct Done {
    std::mutex mutex;
    std::condition_variable signal;
    bool finished = false;
  };
  auto done = std::make_shared<Done>();
  // Detached: if a stuck context never lets the GIL go, the thread waits with it until the
  // worker exits (which the stuck path does within a second).
  std::thread([this, done] {
    const PyGILState_STATE state = PyGILState_Ensure();
    call(worker_abort_, "worker_abort");
    PyGILState_Release(state);
    std::lock_guard lock(done->mutex);
    done->finished = true;
    done->signal.notify_all();
  }).detach();
  std::unique_lock lock(done->mutex);
  if (!done->signal.wait_for(lock, patience, [&] { return done->finished; })) {
    logging::error_log().warn(
        "hooks.worker_abort did not run within {} ms (a context holds the GIL): going on",
        patience.count());
  }
}

}  // namespace hornbeam::python
