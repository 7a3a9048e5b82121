"""An app that imports an extension module refusing subinterpreters (readline, on 3.12 and
3.13): fine in thread mode, a boot failure under context_mode: owngil."""

import readline  # noqa: F401


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"readline imported"]
