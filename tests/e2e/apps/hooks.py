"""Request hooks for the hooks tests (hooks.on_request, .on_response, .on_error)."""

CALLS = []  # what the hooks saw, by the app that reports it at /calls


def require_token(request):
    """Refuses requests without the token, handshakes included (the auth pattern)."""
    if request.header("Authorization") != "Bearer secret":
        return 401 if request.kind == "http" else 403, [("Content-Type", "text/plain")], "token required\n"
    return None


def rewrite(request):
    """Adds a header and moves /old/ to /new/: the app sees the changed request."""
    request.headers.append(("X-Hooked", f"{request.method} {request.path} prefix={request.prefix!r}"))
    request.path = request.path.replace("/old/", "/new/")
    return request


def security_headers(request, status, headers):
    return [*headers, ("X-Frame-Options", "DENY"), ("X-Seen-Status", str(status))]


async def async_security_headers(request, status, headers):  # ASGI hooks may be coroutines
    return security_headers(request, status, headers)


def friendly_error(request, error):
    return 503, [("Content-Type", "text/plain")], f"sorry: {type(error).__name__}\n"


def broken(*arguments):
    raise RuntimeError("the hook itself fails")


# Worker lifecycle hooks: each appends what it saw to the file named by $HB_HOOK_MARKER.
def _mark(event, worker):
    import os
    with open(os.environ["HB_HOOK_MARKER"], "a") as marker:
        marker.write(f"{event} pid={worker.pid} generation={worker.generation} slot={worker.slot} "
                     f"contexts={worker.contexts}\n")


def post_worker_init(worker):
    _mark("post_worker_init", worker)


def worker_exit(worker):
    _mark("worker_exit", worker)


def worker_abort(worker):
    _mark("worker_abort", worker)
