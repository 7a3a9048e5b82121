#pragma once

// The worker's Python contexts: N long-lived threads taking jobs from one queue, each with its
// own thread state on the worker's interpreter (thread mode), or each with a subinterpreter
// and a GIL of its own (owngil mode, InterpreterOptions::own_gil_contexts). A job runs with its
// context's GIL held; the queue waits without it, and one context at a time waits for the GIL
// on the queue's behalf (run()).

#include "common/http_exchange.hpp"
#include "common/wake_batch.hpp"
#include "python/gil.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace hornbeam::python {

class Interpreter;

// What a context keeps across jobs (the protocol adapter with its prepared objects).
class ContextState {
 public:
  virtual ~ContextState() = default;
  // A context with its own event loop (ASGI) serves from here, GIL held, until stop_serving()
  // and returns true; a job context (WSGI) returns false and takes jobs from the pool's queue.
  virtual bool serve() { return false; }
  // A job context (WSGI) answers one request, GIL held.
  virtual void serve_request(HttpRequest& /*request*/, ResponseSink& sink) { sink.fail(500); }
  // From any thread: makes serve() return.
  virtual void stop_serving() {}
};

class ContextPool final : public Wakeable {
 public:
  using Setup = std::function<std::unique_ptr<ContextState>(int index)>;  // GIL held
  // A job's own time limit, passed on to Activity (the worker's stuck-request deadline for
  // it); none means the worker's default.
  using TimeLimit = std::optional<std::chrono::milliseconds>;
  enum class Event {
    job_started,
    job_ended,
    // Within a job: the context waits for its client (common/client_wait.hpp).
    client_wait_began,
    client_wait_ended,
  };
  // Told what a context does, from the context's thread: the worker's shared-memory slot
  // keeps a "busy since" per context for the arbiter's timeout. `time_limit` is the job's
  // (job_started and job_ended only).
  using Activity = std::function<void(int index, Event event, TimeLimit time_limit)>;

  // Starts `count` contexts and runs `setup` in each. Throws what a setup threw (after
  // stopping the others): a context that cannot load the app fails the worker's boot.
  ContextPool(Interpreter& interpreter, int count, Setup setup, Activity activity = {});
  ~ContextPool();  // finishes queued jobs, then stops every context
  ContextPool(const ContextPool&) = delete;
  ContextPool& operator=(const ContextPool&) = delete;

  // A context runs ContextState::serve_request with it.
  void submit(HttpRequest&& request, std::shared_ptr<ResponseSink> sink,
              TimeLimit time_limit = std::nullopt);
  void wake_now() override;
  // The state a context's setup made (valid until the pool is destroyed).
  ContextState& state(int index) { return *states_.at(index); }
  int size() const { return static_cast<int>(threads_.size()); }
  // Time the context in line spent waiting for the GIL before it took a job, in total (the
  // price of more contexts than one interpreter can run at once). Any thread.
  std::uint64_t gil_wait_ns() const { return gil_wait_ns_.load(std::memory_order_relaxed); }
  // The interpreter the context runs in: the worker's, or its own subinterpreter (owngil).
  PyInterpreterState* interpreter(int index) const { return interpreters_.at(index); }
  // The context's thread as Python's tracebacks name it (threading.get_ident()).
  unsigned long thread_ident(int index) {
    return static_cast<unsigned long>(threads_.at(index).native_handle());
  }

 private:
  void run(int index, Setup& setup);
  void stop_all();  // mutex_ held

  Interpreter& interpreter_;
  Activity activity_;
  std::mutex mutex_;
  std::condition_variable wake_;
  struct Queued {
    DispatchedRequest job;
    TimeLimit time_limit;
  };
  // First in, first out, in a vector that keeps its memory: a std::deque of elements this
  // large (a request is 344 bytes) allocates a block for each.
  class JobQueue {
   public:
    bool empty() const { return next_ == items_.size(); }
    std::size_t size() const { return items_.size() - next_; }
    void push(HttpRequest&& request, std::shared_ptr<ResponseSink> sink, TimeLimit time_limit) {
      items_.emplace_back();  // built in place, then the request moved in: one move
      items_.back().job.request = std::move(request);
      items_.back().job.sink = std::move(sink);
      items_.back().time_limit = time_limit;
    }
    // Moved into `into`, once: a request's dozen strings cost a move each time.
    void pop_into(Queued& into);

   private:
    std::vector<Queued> items_;
    std::size_t next_ = 0;  // items_ before it were taken
  };
  JobQueue jobs_;
  // mutex_ held, a job queued; calls the next in line if needed.
  void take_job_locked(Queued& into);
  int unwoken_ = 0;       // jobs queued since the last wake (a WakeBatch holds it)
  int running_ = 0;       // contexts running a job
  bool in_line_ = false;  // a context woke for the queue and waits for the GIL (run())
  bool stopping_ = false;
  int started_ = 0;
  std::exception_ptr setup_error_;
  std::vector<std::thread> threads_;
  std::vector<ContextState*> states_;              // set by each context once its setup is done
  std::vector<PyInterpreterState*> interpreters_;  // the same
  std::atomic<std::uint64_t> gil_wait_ns_{0};
};

}  // namespace hornbeam::python
