#pragma once

// hornbeam.publish, hornbeam.subscribe and hornbeam.forward_to_websocket: the `hornbeam`
// module's pub/sub (docs/pubsub.md), over the worker's pubsub::Bus. The C functions carry
// bytes; pylib/hornbeam_pubsub.py, run in the module, encodes messages and iterates.

#include <Python.h>

namespace hornbeam::pubsub {
class Bus;
}

namespace hornbeam::python {

// Before the interpreter starts. `bus` outlives Python.
void set_pubsub_bus(pubsub::Bus& bus);

// This worker's figures, for state_info()["pubsub"]: published, delivered, dropped (by full
// subscriptions, and by the worker falling behind the host's ring), subscriptions.
PyObject* pubsub_stats();

// From the module's exec: adds the functions and runs the glue in the module (-1 on error,
// with the exception set).
int add_pubsub(PyObject* module);

}  // namespace hornbeam::python
