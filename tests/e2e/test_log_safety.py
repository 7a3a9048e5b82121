"""Log lines stay valid whatever a client sends: text logs are valid UTF-8 with no terminal
escapes, JSON logs are valid JSON, and request bytes show as \\xNN (as in the access log).
A worker that a signal kills leaves its Python tracebacks in the error log."""

import json
import re
import signal
import socket
import time

import pytest
import requests

from conftest import Worker

HOSTILE_BYTES = b"caf\xc3\xa9\xff\xfe"  # valid UTF-8, then bytes that are not


def start_logging_to_file(tmp_path, app, *args):
    """A worker whose error log is a file, so that the test reads its exact bytes."""
    log = tmp_path / "error.log"
    worker = Worker(app, "--logging-error-log", str(log), *args, expect_ready=False)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_bytes().decode("utf-8", "replace") if log.exists() else ""
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
        if match and "ready: app" in text:
            worker.port = int(match.group(1))
            return worker, log
        time.sleep(0.05)
    worker.stop()
    raise AssertionError("worker did not become ready:\n" + text)


def wait_for_bytes(log, needle, timeout=10):
    """The log's bytes once `needle` is in them (the file may not exist yet: a reopened one)."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        data = log.read_bytes() if log.exists() else b""
        if needle in data:
            return data
        time.sleep(0.02)
    raise AssertionError(f"{needle!r} not in {data!r}")


def send(worker, raw):
    with worker.connect() as connection:
        connection.sendall(raw)
        return connection.read_response()[0]


@pytest.mark.parametrize("app,args,target", [
    ("echo:raises_before_start", [], b"/wsgi/" + HOSTILE_BYTES),
    ("asgi_app:app", ["-k", "asgi"], b"/raise-before?q=" + HOSTILE_BYTES),
], ids=["wsgi", "asgi"])
def test_an_error_line_escapes_the_request_bytes(tmp_path, app, args, target):
    worker, log = start_logging_to_file(tmp_path, app, *args)
    try:
        assert send(worker, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n") == 500
        text = wait_for_bytes(log, b"Traceback").decode("utf-8")  # raises if not valid UTF-8
        assert re.search(r"error handling GET /\S*caf\\xc3\\xa9\\xff\\xfe", text), text
    finally:
        worker.stop()


def test_json_lines_stay_json_for_hostile_requests(tmp_path):
    worker, log = start_logging_to_file(tmp_path, "echo:raises_before_start", "--logging-format", "json")
    try:
        assert send(worker, b"GET /\xff\xc3 HTTP/1.1\r\nHost: x\r\n\r\n") == 500
        assert send(worker, b"GET /\x1b[2J HTTP/1.1\r\nHost: x\r\n\r\n") == 400  # ESC: refused
        assert send(worker, b"GET / HTTP/1.1\r\nHost: \xff\r\nX_Bad\xff: 1\r\n\r\n") == 400
        wait_for_bytes(log, b"Traceback")
        wait_for_bytes(log, b"invalid header field name")
        messages = [json.loads(line)["message"] for line in log.read_bytes().decode("utf-8").splitlines()]
        assert any("error handling GET /\\xff\\xc3" in message for message in messages), messages
    finally:
        worker.stop()


def hostile_requests():
    """The request corpus' invalid cases, and requests made of the bytes logs choke on."""
    import base64
    from test_corpus import CORPUS
    cases = [base64.b64decode(json.loads(path.read_text())["raw_base64"]) for path in sorted(CORPUS.glob("invalid/*.json"))]
    assert cases, f"no request corpus at {CORPUS}"
    for bad in (b"\xff\xfe", b"\x1b[2J", b"\xc0\xaf", b"\xed\xa0\x80", b"\r", b"\x00", b"\x7f", b"\x9b", b"\xc2\x9b"):
        cases += [b"GET /" + bad + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                  b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a" + bad + b"b\r\n\r\n",
                  b"GET / HTTP/1.1\r\nX" + bad + b": 1\r\n\r\n",
                  b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;" + bad + b"\r\nhello\r\n0\r\n\r\n",
                  b"G" + bad + b"T / HTTP/1.1\r\n\r\n"]
    return cases


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_every_line_stays_valid_for_the_corpus_of_hostile_requests(tmp_path, log_format):
    worker, log = start_logging_to_file(tmp_path, "echo:upload_digest", "--logging-format", log_format)
    try:
        for raw in hostile_requests():
            with worker.connect() as connection:
                connection.sendall(raw)
                connection.sock.shutdown(socket.SHUT_WR)
                connection.settimeout(5)
                try:
                    while connection.sock.recv(65536):
                        pass
                except (ConnectionResetError, TimeoutError):
                    pass
        worker.stop()
        lines = log.read_bytes().split(b"\n")
        assert sum(b"refused" in line for line in lines) > 50  # the requests were refused and logged
        for line in filter(None, lines):
            text = line.decode("utf-8")  # raises on invalid UTF-8
            assert not any(c in text for c in "\x1b\r\x00\x7f\x9b"), text
            if log_format == "json":
                json.loads(text)
    finally:
        worker.stop()


def test_a_worker_killed_by_a_signal_leaves_its_python_tracebacks_in_the_error_log(tmp_path):
    # Only "was killed by SIGSEGV" reached the log: where the crash happened did not. The
    # report goes to the error log file as it is after a rotation (USR1), and the signal still
    # kills the worker.
    worker, log = start_logging_to_file(tmp_path, "supervised:crashing")
    try:
        log.rename(tmp_path / "error.log.1")
        worker.process.send_signal(signal.SIGUSR1)
        wait_for_bytes(log, b"SIGUSR1: log files reopened")
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{worker.port}/crash", timeout=10)
        assert worker.process.wait(10) in (-signal.SIGSEGV, 1)  # 1: under AddressSanitizer
        text = wait_for_bytes(log, b"in crashing").decode()
        assert "Fatal Python error: Segmentation fault" in text
        assert re.search(r'File ".*supervised\.py", line \d+ in crashing', text), text
    finally:
        worker.stop()
