"""An app whose module starts a thread that is not a daemon thread and ends 3 s after the
worker begins to stop: Python joins it before the worker can exit."""

import os
import threading
import time

stopping = threading.Event()


def flush_for_a_while():
    while not stopping.is_set():
        time.sleep(0.05)
    time.sleep(3)  # what a thread that flushes a buffer at exit would take


# daemon=False said outright: a thread inherits the flag of the thread that starts it, and the
# context thread that imports the app is a daemon one on some Pythons (3.13's dummy threads).
threading.Thread(target=flush_for_a_while, name="flusher", daemon=False).start()
# The worker's SIGTERM handler is its own: this thread learns of the stop from the exit hook.
threading._register_atexit(stopping.set)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
