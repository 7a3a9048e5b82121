#pragma once

// ASGI WebSocket (spec 2.4) for one connection: the object whose bound `receive` and `send`
// the app awaits on its context's loop. Before the app accepts, the handshake can still be
// refused: websocket.close answers 403, and the websocket.http.response extension any status.

#include "common/http_exchange.hpp"
#include "common/websocket_exchange.hpp"
#include "python/asgi_runtime.hpp"

#include <memory>

namespace hornbeam::python {

PyRef make_websocket_exchange_type();
// GIL held, on the loop's thread; the outcome ends the connection exactly once, like HTTP.
PyRef make_websocket_exchange(const std::shared_ptr<AsgiRuntime>& runtime,
                              const HttpRequest& request, std::shared_ptr<ResponseSink> sink,
                              std::shared_ptr<WebSocketPeer> peer);

}  // namespace hornbeam::python
