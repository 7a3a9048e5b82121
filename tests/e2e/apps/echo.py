"""Test apps: each callable exercises one part of PEP 3333."""

import json
import os
import threading
import time

_local = threading.local()


def read_all(stream):
    """The whole body, read the portable way (PEP 3333 and wsgiref.validate want a size)."""
    pieces = []
    while True:
        piece = stream.read(65536)
        if not piece:
            return b"".join(pieces)
        pieces.append(piece)


def environ_json(environ, start_response):
    """The environ as JSON (values that JSON cannot carry as their repr)."""
    shown = {}
    for key, value in environ.items():
        shown[key] = value if isinstance(value, (str, int, bool, type(None))) else repr(value)
    shown["wsgi.version"] = list(environ["wsgi.version"])
    shown["body"] = read_all(environ["wsgi.input"]).decode("latin-1")
    body = json.dumps(shown).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def echo_body(environ, start_response):
    body = read_all(environ["wsgi.input"])
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]


def echo_body_iterated(environ, start_response):
    """The body back from a generator: a body whose length the server cannot know."""
    body = read_all(environ["wsgi.input"])
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return iter([body])


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]


def status_from_path(environ, start_response):
    """/204, /304, /200: respond with that status and a body the server must drop when needed."""
    code = environ["PATH_INFO"].strip("/") or "200"
    start_response(code + " Whatever", [("Content-Type", "text/plain")])
    return [b"body"]


def stream_until_file(environ, start_response):
    """Yields one chunk, then waits until the file named in the query string exists."""
    marker = environ["QUERY_STRING"]
    start_response("200 OK", [("Content-Type", "text/event-stream")])
    yield b"data: first\n\n"
    deadline = time.monotonic() + 10
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield b"data: second\n\n"


class _Closing:
    """An iterable whose close() leaves a trace in the file named by the query string."""

    def __init__(self, environ, chunks, fail_at=None):
        self.marker = environ["QUERY_STRING"]
        self.chunks = chunks
        self.fail_at = fail_at

    def __iter__(self):
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_at:
                raise RuntimeError("boom in the middle of the body")
            yield chunk

    def close(self):
        with open(self.marker, "w") as f:
            f.write("closed")


def closing_ok(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _Closing(environ, [b"a", b"b"])


def closing_fails_midstream(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _Closing(environ, [b"a" * 1000, b"never"], fail_at=1)


def endless_until_closed(environ, start_response):
    """Streams forever; the server must stop iterating and call close() when the client goes."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _Closing(environ, iter(lambda: b"x" * 65536, None))


def raises_before_start(environ, start_response):
    raise ValueError("the app failed before start_response")


def bad_status(environ, start_response):
    start_response("200 OK\r\nX-Injected: yes", [])
    return [b""]


def bad_header_value(environ, start_response):
    start_response("200 OK", [("X-Test", "a\r\nX-Injected: yes")])
    return [b""]


def bad_header_type(environ, start_response):
    start_response("200 OK", [("X-Test", 42)])
    return [b""]


def unframed_content_length(environ, start_response):
    """A Content-Length that is no length: sent as it is, it framed the body two ways (it went
    out beside Transfer-Encoding: chunked)."""
    start_response("200 OK", [("Content-Length", "abc")])
    return [b"x"]


def two_content_lengths(environ, start_response):
    start_response("200 OK", [("Content-Length", "1"), ("content-length", "2")])
    return [b"x"]


def interim_status(environ, start_response):
    """A 1xx is no response: the client would wait on for one."""
    start_response("100 Continue", [])
    return [b""]


def lenient_head(environ, start_response):
    """What Gunicorn takes and PEP 3333 frowns on: a bare status code, headers as a tuple of
    [name, value] lists, the same Content-Length twice (once with white space)."""
    start_response("201", (["X-Pair", "list"], ("Content-Length", "2"), ("content-length", " 2 ")))
    return [b"ok"]


def start_response_arguments(environ, start_response):
    """start_response called the ways PEP 3333 allows (by position, by name, exc_info=None) and
    the ways it does not; the body lists what each call raised, the last valid call's head wins."""
    calls = {
        "names": lambda: start_response(status="201 Created", headers=[("X-Named", "1")]),
        "exc_info_none": lambda: start_response("202 Accepted", [("X-Third", "3")], exc_info=None),
        "no_headers": lambda: start_response("200 OK"),
        "four": lambda: start_response("200 OK", [], None, None),
        "unknown_name": lambda: start_response("200 OK", [], colour="red"),
        "twice_status": lambda: start_response("200 OK", [], status="200 OK"),
        "positional": lambda: start_response("203 Positional", [("X-Positional", "1")]),
    }
    outcome = []
    for name, call in calls.items():
        try:
            call()
            outcome.append(f"{name}: ok")
        except TypeError as e:
            outcome.append(f"{name}: TypeError: {e}")
        except RuntimeError:
            outcome.append(f"{name}: RuntimeError")  # called a second time without exc_info
    return ["\n".join(outcome).encode()]


def no_start_response(environ, start_response):
    return [b"body without start_response"]


def yields_str(environ, start_response):
    start_response("200 OK", [])
    return ["text, not bytes"]


def headers_kept_and_dropped(environ, start_response):
    start_response("200 OK", [
        ("Set-Cookie", "a=1"), ("Connection", "close"), ("Set-Cookie", "b=2"),
        ("Transfer-Encoding", "gzip"), ("Keep-Alive", "timeout=99"), ("X-Kept", "yes"), ("Set-Cookie", "c=3"),
    ])
    return [b"ok"]


def uses_write(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written, ")
    return [b"then returned"]


def exc_info_after_start(environ, start_response):
    write = start_response("200 OK", [])
    write(b"partial")
    try:
        raise KeyError("late")
    except KeyError:
        import sys
        start_response("500 Error", [], sys.exc_info())  # must re-raise: the head is out
    return [b"unreachable"]


def exc_info_before_body(environ, start_response):
    start_response("200 OK", [("X-First", "1")])
    try:
        raise KeyError("early")
    except KeyError:
        import sys
        start_response("503 Service Unavailable", [("X-Second", "2")], sys.exc_info())
    return [b"replaced"]


def marks_then_sleeps(environ, start_response):
    """?MARKER&SECONDS: creates MARKER when the app starts running, then sleeps."""
    marker, seconds = environ["QUERY_STRING"].split("&")
    open(marker, "w").close()
    time.sleep(float(seconds))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"slept"]


def sleeps(environ, start_response):
    time.sleep(float(environ["QUERY_STRING"] or "1"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"slept"]


def thread_local_counter(environ, start_response):
    """Counts requests per context thread: a context keeps its thread state across requests."""
    _local.count = getattr(_local, "count", 0) + 1
    body = f"{threading.get_ident()} {_local.count}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def file_wrapper(environ, start_response):
    path = environ["QUERY_STRING"]
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](open(path, "rb"), 4096)


def upload_digest(environ, start_response):
    """Reads the body in 64 KiB pieces; answers its length and SHA-256."""
    import hashlib
    digest = hashlib.sha256()
    total = 0
    stream = environ["wsgi.input"]
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        digest.update(piece)
        total += len(piece)
    body = f"{total} {digest.hexdigest()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def input_lines(environ, start_response):
    """readline(), readlines(hint) and iteration over one body, as JSON."""
    stream = environ["wsgi.input"]
    first = stream.readline()
    limited = stream.readline(3)
    rest_of_line = stream.readline()
    some = stream.readlines(1)
    iterated = [line for line in stream]
    body = json.dumps([x.decode() if isinstance(x, bytes) else [y.decode() for y in x]
                       for x in (first, limited, rest_of_line, some, iterated)]).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def ignores_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"did not read"]


def big_download(environ, start_response):
    """10 MiB in one block (a typical in-memory download)."""
    body = b"d" * (10 * 1024 * 1024)
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))])
    return [body]


class _ReadSpy:
    """A real file whose read() calls are recorded: the sendfile path never calls read()."""

    def __init__(self, path, marker):
        self.file = open(path, "rb")
        self.marker = marker

    def fileno(self):
        return self.file.fileno()

    def tell(self):
        return self.file.tell()

    def seek(self, *args):
        return self.file.seek(*args)

    def read(self, size=-1):
        with open(self.marker, "a") as f:
            f.write("read\n")
        return self.file.read(size)

    def close(self):
        self.file.close()
        with open(self.marker, "a") as f:
            f.write("closed\n")


def file_wrapper_spy(environ, start_response):
    """?PATH&MARKER[&seek=N][&length=N][&bytesio]"""
    from urllib.parse import parse_qs
    query = parse_qs(environ["QUERY_STRING"])
    path, marker = query["path"][0], query["marker"][0]
    headers = [("Content-Type", "application/octet-stream")]
    if "length" in query:
        headers.append(("Content-Length", query["length"][0]))
    if "bytesio" in query:
        import io
        filelike = io.BytesIO(open(path, "rb").read())
    else:
        filelike = _ReadSpy(path, marker)
        if "seek" in query:
            filelike.seek(int(query["seek"][0]))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](filelike, 8192)


def terminates_a_child(environ, start_response):
    """Starts a child process and stops it with SIGTERM, as apps do: the worker's own signal
    handling must not leave signals blocked in the children of its contexts."""
    import subprocess

    child = subprocess.Popen(["sleep", "30"])
    child.terminate()
    try:
        code = child.wait(5)
    except subprocess.TimeoutExpired:
        child.kill()
        code = "still running after SIGTERM"
    body = str(code).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _answer_and_mark(environ, start_response, text):
    """Writes `text` to the file named by the query, and answers it."""
    with open(environ["QUERY_STRING"], "w") as marker:
        marker.write(text)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text.encode()]


def catches_body_error(environ, start_response):
    """Reads the body and catches what the read raises; writes its class, and whether it is the
    hornbeam.BadRequestBody OSError, to the file named by the query, then answers 200 (the
    server must still answer 400 to a malformed body)."""
    import hornbeam
    try:
        read_all(environ["wsgi.input"])
        caught = "nothing"
    except OSError as error:
        caught = f"{type(error).__name__} {isinstance(error, hornbeam.BadRequestBody)}"
    return _answer_and_mark(environ, start_response, caught)


def streams_then_reads_body(environ, start_response):
    """Starts its response, then reads the body: a malformed body can only cut it."""
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"started\n")
    read_all(environ["wsgi.input"])
    return [b"never\n"]


def reads_in_sizes(environ, start_response):
    """Reads one body with a readline(), then read(n) of sizes small and large, then read():
    answers each piece's length and the SHA-256 of them all, in order."""
    import hashlib
    stream = environ["wsgi.input"]
    pieces = [stream.readline(), stream.read(70000), stream.read(3), stream.read(300000), stream.read()]
    digest = hashlib.sha256(b"".join(pieces)).hexdigest()
    body = json.dumps({"lengths": [len(piece) for piece in pieces], "sha256": digest}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def big_read_until_gone(environ, start_response):
    """One read() of the whole declared body; what it raises goes to the file named by the
    query (the client leaves halfway)."""
    try:
        got = len(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
        caught = f"read {got}"
    except OSError as error:
        caught = f"{type(error).__name__}: {error}"
    return _answer_and_mark(environ, start_response, caught)


def sleeps_then_reads_body(environ, start_response):
    """?SECONDS[&MARKER]: sleeps, creates MARKER if named, then reads the whole body; answers
    its length."""
    seconds, _, marker = environ["QUERY_STRING"].partition("&")
    time.sleep(float(seconds or "0"))
    if marker:
        open(marker, "w").close()
    body = str(len(read_all(environ["wsgi.input"]))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
