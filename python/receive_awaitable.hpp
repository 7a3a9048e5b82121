#pragma once

// What an ASGI receive() that has to wait returns: it awaits a future that a wake-up resolves
// with the message, and it knows how to withdraw. Awaiting a bare future could not: a task
// cancelled while it waits (asyncio.wait_for's timeout, anyio's cancel scopes, Starlette's
// is_disconnected()) would leave its future behind, and a message the future had already been
// given when the cancellation came would be lost.
//
// When the awaiting task is cancelled (the CancelledError thrown in at the await), when the
// awaitable is closed, or when it dies without having been awaited to the end, `withdraw`
// runs: the exchange forgets the future and takes back a message it was given.

#include "python/py_ref.hpp"

namespace hornbeam::python {

// withdraw(exchange, future), GIL held; it must not raise (it clears what it raises).
using Withdraw = void (*)(PyObject* exchange, PyObject* future);

// The type object (GIL held); create once per context.
PyRef make_receive_awaitable_type();
// A new awaitable over `future` (a loop future, not done yet) for `exchange`.
PyRef make_receive_awaitable(PyObject* type, PyObject* future, PyObject* exchange,
                             Withdraw withdraw);

}  // namespace hornbeam::python
