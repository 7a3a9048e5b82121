#pragma once

// ASGI HTTP (spec 2.4) for one request: the object whose bound `receive` and `send` the app
// awaits, run on its context's event loop. It never blocks the loop: what must wait (a body
// still arriving, a slow client's full buffer, a disconnect) is an asyncio future resolved
// when the I/O thread wakes the loop.

#include "common/http_exchange.hpp"
#include "python/asgi_runtime.hpp"

#include <memory>

namespace hornbeam::python {

// The type object (GIL held); once per context.
PyRef make_http_exchange_type();
// The exchange of one request (GIL held, on the loop's thread). Every outcome ends the
// response exactly once: through the app's messages, app_returned() or app_failed(), or its
// deallocation (cut) if the app's task vanished. Takes the request's body.
PyRef make_http_exchange(const std::shared_ptr<AsgiRuntime>& runtime, HttpRequest& request,
                         std::shared_ptr<ResponseSink> sink);

}  // namespace hornbeam::python
