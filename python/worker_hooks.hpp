#pragma once

// The worker lifecycle hooks Gunicorn users rely on: hooks.post_worker_init (the apps are
// loaded, the worker has not said it is ready), hooks.worker_exit (it stops) and
// hooks.worker_abort (the arbiter timed it out). Each is called with a `worker` object:
// pid, generation, slot (None when run alone) and contexts.

#include "config/config.hpp"
#include "python/interpreter.hpp"
#include "python/py_ref.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace hornbeam::python {

struct WorkerIdentity {
  long pid = 0;
  std::optional<std::uint64_t> generation;  // under an arbiter
  std::optional<std::uint64_t> slot;
  int contexts = 0;
};

class WorkerHooks {
 public:
  // Imports the hooks on the main thread; throws AppLoadError when one cannot be imported.
  WorkerHooks(Interpreter& interpreter, const config::Hooks& hooks, const WorkerIdentity& worker);
  ~WorkerHooks();
  WorkerHooks(const WorkerHooks&) = delete;
  WorkerHooks& operator=(const WorkerHooks&) = delete;

  // Throws std::runtime_error with the traceback when the hook raises: the worker's boot fails.
  void post_worker_init();
  // Logs what the hook raises.
  void worker_exit();
  // On the stuck path, where a context may hold the GIL for ever: the hook runs on a thread of
  // its own, and the worker waits for it at most `patience` (then goes on without it).
  void worker_abort(std::chrono::milliseconds patience);

 private:
  void call(const PyRef& hook, const char* name);

  Interpreter& interpreter_;
  PyRef worker_;
  PyRef post_worker_init_, worker_exit_, worker_abort_;
};

}  // namespace hornbeam::python
