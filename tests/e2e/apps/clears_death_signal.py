"""An app that drops its privileges for a moment at import, as apps that switch users do: a
change of credentials makes the kernel clear the process's parent-death signal (glibc applies
it to every thread), so only the worker's own watch for its arbiter can then end it. Runs as
root (the test skips otherwise)."""

import os

os.seteuid(65534)
os.seteuid(0)


def pid(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
