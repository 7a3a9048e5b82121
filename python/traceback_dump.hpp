#pragma once

// Where every Python thread of the worker is, as faulthandler prints it, for the log of a
// worker the arbiter is replacing because a request is stuck.

#include <string>

namespace hornbeam::python {

class Interpreter;

// Safe without the GIL (faulthandler's own watchdog thread does this while another thread
// holds the GIL): the stuck context may hold it forever. Text like
//   Thread 0x00007f... (most recent call first):
//     File "/srv/app.py", line 12 in handler
std::string dump_thread_tracebacks(const Interpreter& interpreter);

}  // namespace hornbeam::python
