"""An app whose import never ends (a database it waits for, a model it never finishes loading)."""

import time

time.sleep(3600)


def application(environ, start_response):
    start_response("200 OK", [])
    return [b"never served"]
