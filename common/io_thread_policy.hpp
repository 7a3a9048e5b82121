#pragma once

// The worker's I/O thread and its contexts share cores. When a request arrives while a
// context runs a job, Linux wakes the I/O thread and, by its wake-up preemption, usually runs
// it at once on the context's core, only for it to queue the request behind the running one
// and sleep again: two thread switches per request (0.66 per request for WSGI hello world at
// 50 connections, measured with one worker pinned to one core; docs/performance.md).
//
// While every context is busy and requests wait for one, reading the next request sooner
// cannot start it sooner. For that time the I/O thread runs as SCHED_BATCH, which the kernel
// never lets preempt on wake-up: it runs when the context sleeps or at the end of its time
// slice, and takes every request that arrived meanwhile in one turn. It is SCHED_OTHER again
// as soon as a context is idle or waits for it (a request body, room for a response), so a
// worker whose core is shared with other busy processes answers as promptly as before: a
// SCHED_BATCH thread woken on such a core waits for the scheduler's tick (4 ms here).
//
// Only the I/O thread's policy changes, and only between the two normal policies, which needs
// no privilege. Where the kernel refuses (a seccomp profile), the I/O thread stays as it is.

namespace hornbeam {

class IoThreadPolicy {
 public:
  // Held by the I/O thread while it serves: the thread whose policy defer() changes. When it
  // ends, that thread is SCHED_OTHER again and no thread is adopted.
  class Adoption {
   public:
    Adoption();
    ~Adoption();
    Adoption(const Adoption&) = delete;
    Adoption& operator=(const Adoption&) = delete;
  };

  // The I/O thread: requests wait for busy contexts. SCHED_BATCH unless a context waits for
  // the I/O thread. No effect from any other thread.
  static void defer();
  // Any thread: a context went idle. SCHED_OTHER again if deferred.
  static void restore();

  // Held by a context while it waits for the I/O thread: SCHED_OTHER meanwhile.
  class WaitingForIo {
   public:
    WaitingForIo();
    ~WaitingForIo();
    WaitingForIo(const WaitingForIo&) = delete;
    WaitingForIo& operator=(const WaitingForIo&) = delete;
  };
};

}  // namespace hornbeam
