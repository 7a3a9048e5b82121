#include "common/io_thread_policy.hpp"

#include <sched.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

namespace hornbeam {
namespace {

// One I/O thread per worker process, so the state is the process's.
std::mutex mutex;
pid_t io_thread = 0;       // its kernel thread id; 0 while none is adopted
int contexts_waiting = 0;  // WaitingForIo guards alive
bool refused = false;      // the kernel refused a change once: stop trying
// It runs SCHED_BATCH. Changed with the mutex held; read without it for the fast paths.
std::atomic<bool> deferred{false};

thread_local bool is_io_thread = false;

// mutex held
void set_policy(int policy) {
  if (refused) return;
  sched_param param{};
  if (::sched_setscheduler(io_thread, policy, &param) != 0) {
    refused = true;
    return;
  }
  deferred.store(policy == SCHED_BATCH, std::memory_order_relaxed);
}

}  // namespace

IoThreadPolicy::Adoption::Adoption() {
  std::lock_guard lock(mutex);
  io_thread = ::gettid();
  is_io_thread = true;
}

IoThreadPolicy::Adoption::~Adoption() {
  std::lock_guard lock(mutex);
  if (deferred) set_policy(SCHED_OTHER);
  io_thread = 0;
  is_io_thread = false;
}

void IoThreadPolicy::defer() {
  if (!is_io_thread || deferred.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mutex);
  if (!deferred && contexts_waiting == 0) set_policy(SCHED_BATCH);
}

void IoThreadPolicy::restore() {
  if (!deferred.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mutex);
  if (deferred) set_policy(SCHED_OTHER);
}

IoThreadPolicy::WaitingForIo::WaitingForIo() {
  std::lock_guard lock(mutex);
  ++contexts_waiting;
  if (deferred) set_policy(SCHED_OTHER);
}

IoThreadPolicy::WaitingForIo::~WaitingForIo() {
  std::lock_guard lock(mutex);
  --contexts_waiting;
}

}  // namespace hornbeam
