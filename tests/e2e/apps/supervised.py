"""Apps for the arbiter's end-to-end tests."""

import os
import time
from urllib.parse import parse_qs


def pid(environ, start_response):
    """Answers with the worker's pid; ?sleep=SECONDS first (a request in flight)."""
    query = parse_qs(environ["QUERY_STRING"])
    if "sleep" in query:
        time.sleep(float(query["sleep"][0]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


def stuck_forever_in_here():
    while True:
        time.sleep(0.05)


def stuck(environ, start_response):
    """/stuck never returns (the arbiter's timeout must replace the worker); anything else is fast."""
    if environ["PATH_INFO"] == "/stuck":
        stuck_forever_in_here()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


_kept = []

# A worker that imports this while the marker file exists boots slowly: the replacement of a
# worker the test wants to catch before it is ready.
if os.environ.get("HB_TEST_SLOW_BOOT_MARKER") and os.path.exists(os.environ["HB_TEST_SLOW_BOOT_MARKER"]):
    time.sleep(3)


def leaky(environ, start_response):
    """Keeps 1 MiB per request for ever (a slow leak in an app nobody can fix); /hog?mib=N
    keeps N MiB at once. Answers with the worker's pid."""
    query = parse_qs(environ["QUERY_STRING"])
    mib = int(query["mib"][0]) if environ["PATH_INFO"] == "/hog" else 1
    _kept.append(b"x" * (mib << 20))  # written, so resident
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


def crashing(environ, start_response):
    """/crash kills the worker with SIGSEGV, as a broken C extension does; anything else is fast."""
    if environ["PATH_INFO"] == "/crash":
        import ctypes
        ctypes.string_at(0)  # reads address 0
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


def streams_or_reads_then_hangs(environ, start_response):
    """GET streams for ever (a response as large as the client will take); POST reads its body
    to the end, then never returns (the app stuck after its client wait)."""
    if environ["REQUEST_METHOD"] == "POST":
        while environ["wsgi.input"].read(65536):
            pass
        stuck_forever_in_here()
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return iter(lambda: b"s" * 65536, None)
