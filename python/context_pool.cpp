#include "python/context_pool.hpp"

#include "common/client_wait.hpp"
#include "common/io_thread_policy.hpp"

#include "python/interpreter.hpp"
#include "python/sub_interpreter.hpp"

#include <optional>
#include <utility>

namespace hornbeam::python {

namespace {

// For as long as a job context lives, its thread's waits for a client go to Activity.
class ReportedClientWaits final : public ClientWait::Observer {
 public:
  ReportedClientWaits(const ContextPool::Activity& activity, int index)
      : activity_(activity), index_(index) {
    if (activity_) ClientWait::observe_this_thread(this);
  }
  ~ReportedClientWaits() { ClientWait::observe_this_thread(nullptr); }
  ReportedClientWaits(const ReportedClientWaits&) = delete;
  ReportedClientWaits& operator=(const ReportedClientWaits&) = delete;

  void client_wait_began() override {
    activity_(index_, ContextPool::Event::client_wait_began, std::nullopt);
  }
  void client_wait_ended() override {
    activity_(index_, ContextPool::Event::client_wait_ended, std::nullopt);
  }

 private:
  const ContextPool::Activity& activity_;
  const int index_;
};

}  // namespace

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

void ContextPool::submit(HttpRequest&& request, std::shared_ptr<ResponseSink> sink,
                         TimeLimit time_limit) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push(std::move(request), std::move(sink), time_limit);
    // More jobs than idle contexts: this request waits for one (see IoThreadPolicy).
    if (static_cast<int>(jobs_.size()) > size() - running_) IoThreadPolicy::defer();
    // The I/O thread's turn wakes a context once, at its end, for all the jobs it queued.
    if (unwoken_++ > 0) return;
  }
  if (!WakeBatch::hold(*this)) wake_now();
}

void ContextPool::JobQueue::pop_into(Queued& into) {
  into = std::move(items_[next_++]);
  if (empty()) {
    items_.clear();
    next_ = 0;
  } else if (next_ >= 64 && next_ * 2 >= items_.size()) {
    // A queue that never empties (a steady backlog) drops what was taken now and then.
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(next_));
    next_ = 0;
  }
}

void ContextPool::wake_now() {
  {
    std::lock_guard lock(mutex_);
    if (std::exchange(unwoken_, 0) == 0 || in_line_) return;
  }
  wake_.notify_one();  // the next in line (run() says why only one)
}

void ContextPool::take_job_locked(Queued& into) {
  jobs_.pop_into(into);
  // What is left needs someone in line, should this job wait on I/O.
  if (!jobs_.empty() && !in_line_ && running_ < size()) wake_.notify_one();
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
  // Queued jobs are taken by whoever holds the GIL, and one context at a time waits for the
  // GIL on their behalf ("in line"), without a job. On one interpreter only the GIL's holder
  // runs: a context that takes the GIL when the running one lets it go (its job waits on
  // I/O, or the queue is empty) is all the queue needs. Waking a context per queued job
  // instead had each take one and wait for the GIL with it: twice the futex calls and thread
  // switches, and jobs held back while the holder could have run them (hello world at 4
  // contexts, docs/performance.md). With own-GIL contexts the one in line takes its GIL at
  // once and calls the next: every context works.
  const ReportedClientWaits client_waits(activity_, index);
  while (!served) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || (!jobs_.empty() && !in_line_); });
      if (jobs_.empty() || in_line_) break;  // stopping: the rest is someone else's
      in_line_ = true;
    }
    const auto asked = std::chrono::steady_clock::now();
    Attached gil(thread_state);
    const auto waited = std::chrono::steady_clock::now() - asked;
    Queued queued;
    {
      std::lock_guard lock(mutex_);
      in_line_ = false;
      if (!jobs_.empty()) {
        gil_wait_ns_.fetch_add(
            static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(waited).count()),
            std::memory_order_relaxed);
        ++running_;
        take_job_locked(queued);
      }
    }
    // Keep the GIL while more jobs are queued; it is released only to wait (never wait for
    // the queue while holding it).
    while (queued.job.sink) {
      if (activity_) activity_(index, Event::job_started, queued.time_limit);
      state->serve_request(queued.job.request, *queued.job.sink);
      queued.job.sink.reset();  // now: the connection reuses the channel once it holds it alone
      if (activity_) activity_(index, Event::job_ended, queued.time_limit);
      std::lock_guard lock(mutex_);
      if (!jobs_.empty()) {
        take_job_locked(queued);
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
