#pragma once

// What a finished TLS handshake negotiated, as the apps see it: the WSGI environ's SSL_*
// keys and the ASGI `tls` extension (docs/tls.md).

#include "common/http_exchange.hpp"

#include <memory>

using SSL = struct ssl_st;

namespace hornbeam::worker {

std::shared_ptr<const TlsSession> describe_tls_session(SSL* ssl);

}  // namespace hornbeam::worker
