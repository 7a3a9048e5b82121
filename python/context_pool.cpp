#include "python/context_pool.hpp"

#include "common/io_thread_policy.hpp"

#include "python/interpreter.hpp"
#include "python/sub_interpreter.hpp"

#include <optional>
#include <utility>

namespace hornbeam::python {

ContextPool::ContextPool(Interpreter& interpreter, int count, Setup setup, Activity activity)
    : interpreter_(interpreter),
      activity_(std::move(activity)),
      states_(static_cast<std::size_t>(count), nullptr),
      interpreters_(static_cast<std::size_t>(count), nullptr) {
  // In one interpreter the first context imports the app alone; the others then find it in
  // sys.modules. Importing it from several threads at once gains nothing (one GIL), and when
  // the import fails, the threads waiting on the same module get a bare KeyError (CPython
  // 3.13) that may hide the real error. The rest set up side by side (an ASGI lifespan
  // startup that waits on I/O overlaps). Own-GIL contexts each import their own, in parallel.
  const bool first_alone = !interpreter.options().own_gil_contexts;
  for (int index = 0; index < count; ++index) {
    threads_.emplace_back([this, index, &setup] { run(index, setup); });
    if (index > 0 || !first_alone) continue;
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [&] { return started_ > 0 || setup_error_; });
    if (setup_error_) break;
  }
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [&] { return started_ == count || setup_error_; });
  if (setup_error_) {
    const auto error = setup_error_;
    stop_all();
    wake_.notify_all();
    lock.unlock();
    for (auto& thread : threads_) thread.join();
    std::rethrow_exception(error);
  }
}

ContextPool::~ContextPool() {
  {
    std::lock_guard lock(mutex_);
    stop_all();
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void ContextPool::stop_all() {
  stopping_ = true;
  for (auto* state : states_) {
    if (state) state->stop_serving();
  }
}

void ContextPool::submit(Job job, TimeLimit time_limit) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back({std::move(job), time_limit});
    // More jobs than idle contexts: this request waits for one (see IoThreadPolicy).
    if (static_cast<int>(jobs_.size()) > size() - running_) IoThreadPolicy::defer();
    // The I/O thread's turn wakes a context once, at its end, for all the jobs it queued.
    if (unwoken_++ > 0) return;
  }
  if (!WakeBatch::hold(*this)) wake_now();
}

void ContextPool::wake_now() {
  int jobs = 0;
  {
    std::lock_guard lock(mutex_);
    jobs = std::exchange(unwoken_, 0);
  }
  for (; jobs > 0; --jobs) wake_.notify_one();
}

void ContextPool::run(int index, Setup& setup) {
  const auto failed = [&] {
    std::lock_guard lock(mutex_);
    if (!setup_error_) setup_error_ = std::current_exception();
    wake_.notify_all();
  };
  // The context's Python thread: a thread state of the worker's interpreter, or (owngil) the
  // one of its own subinterpreter. Either outlives `state` below.
  std::optional<ThreadState> shared_interpreter;
  std::optional<SubInterpreter> own_interpreter;
  try {
    if (interpreter_.options().own_gil_contexts) {
      own_interpreter.emplace(interpreter_.state(), interpreter_.options());
    } else {
      shared_interpreter.emplace(interpreter_.state());
    }
  } catch (...) {
    return failed();
  }
  PyThreadState* const thread_state =
      own_interpreter ? own_interpreter->thread_state() : shared_interpreter->get();
  std::unique_ptr<ContextState> state;
  {
    Attached gil(thread_state);
    try {
      state = setup(index);
    } catch (...) {
      return failed();
    }
  }
  {
    std::lock_guard lock(mutex_);
    ++started_;
    states_[static_cast<std::size_t>(index)] = state.get();
    interpreters_[static_cast<std::size_t>(index)] = PyThreadState_GetInterpreter(thread_state);
    if (stopping_) state->stop_serving();  // another context failed its setup meanwhile
  }
  wake_.notify_all();

  bool served = false;
  {
    Attached gil(thread_state);
    served = state->serve();
  }
  while (!served) {
    Queued queued;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) break;  // stopping, and nothing left to do
      queued = std::move(jobs_.front());
      jobs_.pop_front();
      ++running_;
    }
    // Keep the GIL while more jobs are queued; it is released only to wait (never wait for
    // the queue while holding it).
    const auto asked = std::chrono::steady_clock::now();
    Attached gil(thread_state);
    gil_wait_ns_.fetch_add(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::steady_clock::now() - asked)
                                       .count()),
        std::memory_order_relaxed);
    while (queued.job) {
      if (activity_) activity_(index, true, queued.time_limit);
      queued.job(*state);
      queued.job = nullptr;
      if (activity_) activity_(index, false, queued.time_limit);
      std::lock_guard lock(mutex_);
      if (!jobs_.empty()) {
        queued = std::move(jobs_.front());
        jobs_.pop_front();
      } else {
        --running_;
        IoThreadPolicy::restore();  // this context is idle: the next request can start now
      }
    }
  }
  Attached gil(thread_state);
  state.reset();  // Python objects of the context die with the GIL held
}

}  // namespace hornbeam::python
