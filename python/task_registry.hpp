#pragma once

// asyncio's registry of live tasks, kept at C speed.
//
// Every asyncio Task registers itself in a weakref.WeakSet (asyncio.tasks._all_tasks on
// Python 3.11, _scheduled_tasks on 3.12 and later), which asyncio.all_tasks() reads. The C
// Task calls the set's `add`, written in Python, and each dead task's weak reference calls
// back the set's `_remove`, in Python too: about 2,600 instructions of the 39,000 an ASGI
// hello world costs, since each request is a Task.
//
// `speed_up_task_registry` gives that one set an `add` of its own (an instance attribute,
// which the C Task's method lookup finds before the class's) that does what WeakSet.add does,
// and whose weak references call back a remover that does what WeakSet's does: the set's
// contents and asyncio.all_tasks() are the same as before. Once per interpreter; a Python
// whose registry is not a plain WeakSet is left alone.

#include <Python.h>

namespace hornbeam::python {

// Needs the GIL. Returns false with a Python error set when it failed.
bool speed_up_task_registry();

}  // namespace hornbeam::python
