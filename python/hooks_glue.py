# Request hooks around an app (hooks.on_request, hooks.on_response, hooks.on_error), compiled
# into hornbeam-worker and loaded once per context, only when a hook is set: a worker without
# hooks runs its apps as they are. One wrapper for WSGI apps and one for ASGI apps.

import inspect
import sys
import traceback
from http import HTTPStatus

import hornbeam


class Request:
    """What a hook sees of a request. on_request may change `path`, `query_string` and
    `headers` and return the request: the app then sees the changes."""

    __slots__ = ("method", "path", "query_string", "headers", "client", "scheme", "prefix", "kind")

    def __init__(self, method, path, query_string, headers, client, scheme, prefix, kind):
        self.method = method              # "GET"
        self.path = path                  # the whole decoded path, the mount's prefix included
        self.query_string = query_string  # as sent, without "?"
        self.headers = headers            # [(name, value)], str, in order
        self.client = client              # (address, port), or None
        self.scheme = scheme              # "http", "https", "ws" or "wss"
        self.prefix = prefix              # the app's mount prefix ("" at the root)
        self.kind = kind                  # "http" or "websocket"

    def header(self, name, default=None):
        """The first value of a header, by case-insensitive name."""
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), default)

    def __repr__(self):
        return f"<hornbeam Request {self.method} {self.path}>"


class HookError(Exception):
    """A hook answered with something that is not (status, headers, body)."""


def answer_of(result):
    """(status, headers, body) from a hook's result, None when it lets the request go on."""
    if result is None or isinstance(result, Request):
        return None
    if not isinstance(result, tuple) or len(result) not in (2, 3):
        raise HookError(f"a hook must return None, the request, or (status, headers, body); not {result!r}")
    status, headers, body = (*result, b"") if len(result) == 2 else result
    if isinstance(body, str):
        body = body.encode()
    return int(status), [(str(name), str(value)) for name, value in headers], bytes(body)


def report(hook, request):
    hornbeam._log_error(f"hooks.{hook} raised for {request.method} {request.path}:\n{traceback.format_exc()}")


def status_line(status):
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


SERVER_ERROR = (500, [("Content-Type", "text/plain")], b"500 Internal Server Error\n")


# --- WSGI -------------------------------------------------------------------------------------

def wsgi_request(environ, prefix):
    headers = [(key[5:].replace("_", "-").title(), value) for key, value in environ.items()
               if key.startswith("HTTP_")]
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers.append((name, environ[key]))
    client = (environ.get("REMOTE_ADDR", ""), int(environ.get("REMOTE_PORT") or 0))
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return Request(environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), headers, client,
                   environ.get("wsgi.url_scheme", "http"), prefix, "http")


def apply_to_environ(request, environ):
    """The app sees what on_request changed: the path (past the prefix), the query, the headers."""
    script_name = environ.get("SCRIPT_NAME", "")
    path = request.path
    environ["PATH_INFO"] = path[len(script_name):] if path.startswith(script_name) else path
    environ["QUERY_STRING"] = request.query_string
    for key in [key for key in environ if key.startswith("HTTP_")]:
        del environ[key]
    environ.pop("CONTENT_TYPE", None)
    environ.pop("CONTENT_LENGTH", None)
    for name, value in request.headers:
        key = name.upper().replace("-", "_")
        if "_" in name:
            continue  # never let `X_Foo` pass for `X-Foo` (as the server drops such fields)
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = environ[key] + ", " + value if key in environ and key.startswith("HTTP_") else value


def wrap_wsgi(app, prefix, on_request, on_response, on_error):
    def answer(start_response, status, headers, body, exc_info=None):
        start_response(status_line(status), headers + [("Content-Length", str(len(body)))], exc_info)
        return [body]

    def hooked(environ, start_response):
        request = wsgi_request(environ, prefix)
        if on_request is not None:
            try:
                result = on_request(request)
                early = answer_of(result)
            except Exception:
                report("on_request", request)
                return answer(start_response, *SERVER_ERROR)
            if early is not None:
                return answer(start_response, *early)
            if isinstance(result, Request):
                apply_to_environ(result, environ)
                request = result
        started = False

        def hooked_start(status, headers, exc_info=None):
            nonlocal started
            started = True
            if on_response is not None:
                try:
                    replaced = on_response(request, int(status.split(" ", 1)[0]), list(headers))
                    if replaced is not None:
                        headers = [(str(name), str(value)) for name, value in replaced]
                except Exception:
                    report("on_response", request)  # the app's own headers go out
            return start_response(status, headers, exc_info)

        try:
            return app(environ, hooked_start)
        except Exception as error:
            if on_error is None or started:
                raise
            hornbeam._log_error(f"error handling {request.method} {request.path} "
                                f"(hooks.on_error answers):\n{traceback.format_exc()}")
            try:
                handled = answer_of(on_error(request, error))
            except Exception:
                report("on_error", request)
                handled = SERVER_ERROR
            if handled is None:
                handled = SERVER_ERROR
            return answer(start_response, *handled, exc_info=sys.exc_info())

    return hooked


# --- ASGI -------------------------------------------------------------------------------------

def root_included(scope):
    """Whether scope["path"] holds the root_path (the spec's way), or what follows it (for an app
    on Starlette before 0.35: docs/mounts.md)."""
    root, path = scope.get("root_path", ""), scope["path"]
    return not root or path == root or path.startswith(root + "/")


def asgi_request(scope, prefix):
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
    client = tuple(scope["client"]) if scope.get("client") else None
    path = scope["path"] if root_included(scope) else scope["root_path"] + scope["path"]
    return Request(scope.get("method", "GET"), path, scope["query_string"].decode("latin-1"),
                   headers, client, scope["scheme"], prefix, scope["type"])


def apply_to_scope(request, scope):
    root = scope.get("root_path", "")
    keep_root = root_included(scope)
    scope = dict(scope)
    scope["path"] = request.path
    if not keep_root and request.path.startswith(root):
        scope["path"] = request.path[len(root):] or "/"
    scope["query_string"] = request.query_string.encode("latin-1")
    scope["headers"] = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                        for name, value in request.headers if "_" not in name]
    return scope


async def resolved(result):
    return await result if inspect.isawaitable(result) else result


def wrap_asgi(app, prefix, on_request, on_response, on_error):
    async def answer(scope, receive, send, status, headers, body):
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        raw.append((b"content-length", str(len(body)).encode()))
        if scope["type"] == "websocket":  # refuses the handshake with this response
            await receive()  # websocket.connect
            await send({"type": "websocket.http.response.start", "status": status, "headers": raw})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": body})

    async def hooked(scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await app(scope, receive, send)
        request = asgi_request(scope, prefix)
        if on_request is not None:
            try:
                result = await resolved(on_request(request))
                early = answer_of(result)
            except Exception:
                report("on_request", request)
                return await answer(scope, receive, send, *SERVER_ERROR)
            if early is not None:
                return await answer(scope, receive, send, *early)
            if isinstance(result, Request):
                scope = apply_to_scope(result, scope)
                request = result
        started = False

        async def hooked_send(message):
            nonlocal started
            if message["type"] in ("http.response.start", "websocket.http.response.start", "websocket.accept"):
                started = True
                if on_response is not None and message["type"] != "websocket.accept":
                    try:
                        headers = [(name.decode("latin-1"), value.decode("latin-1"))
                                   for name, value in message.get("headers", [])]
                        replaced = await resolved(on_response(request, message["status"], headers))
                        if replaced is not None:
                            message = {**message, "headers": [(str(name).lower().encode("latin-1"),
                                                               str(value).encode("latin-1"))
                                                              for name, value in replaced]}
                    except Exception:
                        report("on_response", request)  # the app's own headers go out
            await send(message)

        try:
            await app(scope, receive, hooked_send)
        except Exception as error:
            if on_error is None or started:
                raise
            hornbeam._log_error(f"error handling {request.method} {request.path} "
                                f"(hooks.on_error answers):\n{traceback.format_exc()}")
            try:
                handled = answer_of(await resolved(on_error(request, error)))
            except Exception:
                report("on_error", request)
                handled = SERVER_ERROR
            await answer(scope, receive, send, *(handled or SERVER_ERROR))

    hooked.__wrapped__ = app  # what path_without_root_path judges (asgi_glue.py)
    return hooked
