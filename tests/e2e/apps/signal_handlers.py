"""An app written for containers: at import it installs its own SIGTERM handler (to clean up
and exit) and a SIGUSR2 one, and registers an atexit function. HB_TEST_MARKER names a file
that says which of them ran."""

import atexit
import os
import signal
import sys


def note(text):
    with open(os.environ["HB_TEST_MARKER"], "a") as marker:
        marker.write(text + "\n")


def on_sigterm(signum, frame):
    note("sigterm handler")
    sys.exit(0)


previous = signal.signal(signal.SIGTERM, on_sigterm)
try:
    signal.signal(signal.SIGUSR2, lambda *_: None)  # not the worker's: CPython answers
    usr2 = "installed"
except ValueError as error:
    usr2 = str(error)
atexit.register(note, "atexit")


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"previous={previous!r} usr2={usr2}".encode()]
