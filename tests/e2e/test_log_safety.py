"""Log lines stay valid whatever a client sends: text logs are valid UTF-8 with no terminal
escapes, JSON logs are valid JSON, and request bytes show as \\xNN (as in the access log)."""

import json
import re
import time

import pytest

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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log.read_bytes():
            return log.read_bytes()
        time.sleep(0.02)
    raise AssertionError(f"{needle!r} not in {log.read_bytes()!r}")


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
