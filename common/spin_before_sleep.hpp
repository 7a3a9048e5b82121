#pragma once

// Whether, and how long, a thread keeps polling for work before it sleeps: the worker's I/O
// thread, and a thread waiting for Redis's reply (redis/connection.cpp).
//
// Waking a thread that sleeps in epoll_wait costs the kernel's wake-up path and, on a virtual
// machine, the exit from an idle virtual CPU: 15-35 us measured here, more than the rest of
// a hello-world request. When the next event is due within microseconds (a context's answer,
// or a client that sends its next request as soon as it has its answer), polling for a short
// while catches it without that cost. Polling spends CPU, so it is done only while it pays
// off, judged apart for the two kinds of wait (a context's answer is due or not: at a
// trickle of requests the first pays and the second never does). After `max_credit` polls in
// a row that found nothing, a kind stops polling and tries again once in `probe_every`
// sleeps. Each poll yields the CPU first, so any other thread that can run on this core (a
// context, another worker, another program) runs instead; and when one did, polling stops at
// once: the core is not idle then, so sleeping costs no idle exit, and the core is theirs.

#include <chrono>

namespace hornbeam {

class SpinBeforeSleep {
 public:
  static constexpr int max_credit = 4;    // misses in a row before a kind stops polling
  static constexpr int probe_every = 16;  // sleeps between tries once it stopped
  // A yield and a poll that took longer than this ran some other thread meanwhile (alone on
  // its core, the pair takes 1-2 us).
  static constexpr std::chrono::microseconds core_was_busy{10};

  enum class Wait {
    answer_due,  // an answer is due (a context's, Redis's), likely within microseconds
    idle,        // nothing is due: only clients can bring work
  };

  using Clock = std::chrono::steady_clock;
  using Now = Clock::time_point (*)();

  // `now` is the clock (tests give one that does not depend on the scheduler).
  explicit SpinBeforeSleep(std::chrono::microseconds window, Now now = &Clock::now)
      : window_(window), now_(now) {}

  bool enabled() const { return window_.count() > 0; }

  // Before sleeping: polls with `poll` (true when it ran some work), calling `yield` before
  // each, until it finds work or the window ends. True when it found work (no sleep needed).
  template <class Poll, class Yield>
  bool found_work(Wait wait, Poll poll, Yield yield) {
    if (!enabled()) return false;
    auto& kind = kinds_[index(wait)];
    if (kind.credit == 0 && ++kind.sleeps_since_probe < probe_every) return false;
    kind.sleeps_since_probe = 0;
    auto now = now_();
    const auto deadline = now + window_;
    do {
      const auto before = now;
      yield();
      if (poll()) {
        kind.credit = max_credit;
        return true;
      }
      now = now_();
      if (now - before > core_was_busy) return false;  // neither a hit nor a miss
    } while (now < deadline);
    if (kind.credit > 0) --kind.credit;
    return false;
  }

  bool polls_before_sleeping(Wait wait) const { return kinds_[index(wait)].credit > 0; }

 private:
  static int index(Wait wait) { return wait == Wait::answer_due ? 0 : 1; }
  struct Kind {
    int credit = max_credit;
    int sleeps_since_probe = 0;
  };
  const std::chrono::microseconds window_;
  const Now now_;
  Kind kinds_[2];
};

}  // namespace hornbeam
