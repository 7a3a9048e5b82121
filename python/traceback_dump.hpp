#pragma once

// Where every Python thread of the worker is, as faulthandler prints it, for the log of a
// worker the arbiter is replacing because a request is stuck.

#include <Python.h>

#include <chrono>
#include <string>

namespace hornbeam::python {

// The threads of one interpreter (the worker's, or a context's own under owngil), called
// without the GIL: the stuck context may hold it forever. Up to Python 3.12 this reads the
// threads as faulthandler's watchdog does, without the GIL; from 3.13, whose libpython no
// longer exports that, it asks for the GIL and gives up after `wait`. Text like
//   Thread 0x00007f... (most recent call first):
//     File "/srv/app.py", line 12 in handler
std::string dump_thread_tracebacks(PyInterpreterState* interpreter, std::chrono::milliseconds wait);

}  // namespace hornbeam::python
