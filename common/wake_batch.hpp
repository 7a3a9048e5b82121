#pragma once

// Coalesced wake-ups between the I/O thread and the event loops. Waking another thread (an
// eventfd write, an io_context post) can cost a thread switch, and when both threads share a
// core the woken one often preempts the waker at once: an event loop answering 50 requests in
// one turn would switch threads 50 times. A thread that works in bursts opens a WakeBatch;
// wakes it requests meanwhile are held back and delivered once per target when it releases
// them at the end of the burst.

#include <functional>
#include <vector>

namespace hornbeam {

// Something that wakes another thread. Targets must outlive any batch that holds them.
class Wakeable {
 public:
  virtual void wake_now() = 0;

 protected:
  ~Wakeable() = default;
};

class WakeBatch {
 public:
  // Opens the batch on the calling thread. `on_first_held` runs when a burst's first wake is
  // held back (an event loop schedules its release() with it).
  explicit WakeBatch(std::function<void()> on_first_held = {});
  ~WakeBatch();  // releases what is held, then closes the batch
  WakeBatch(const WakeBatch&) = delete;
  WakeBatch& operator=(const WakeBatch&) = delete;

  // Delivers the held wakes, each target once.
  void release();

  // From any thread: true when this thread's open batch holds the wake for later; false when
  // there is none (the caller wakes now).
  static bool hold(Wakeable& target);

 private:
  std::vector<Wakeable*> held_;
  std::function<void()> on_first_held_;
  WakeBatch* previous_;
};

}  // namespace hornbeam
