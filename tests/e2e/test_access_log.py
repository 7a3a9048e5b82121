"""The access log of the worker, in Gunicorn's atom format."""

import json
import re
import time

import requests


def wait_for_lines(path, count, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return path.read_text().splitlines()
        time.sleep(0.02)
    raise AssertionError(f"{path} has fewer than {count} lines")


def test_default_format_is_common_log_with_response_time(start_worker, tmp_path):
    log = tmp_path / "access.log"
    worker = start_worker("echo:hello", "--logging-access-log", str(log))
    requests.get(worker.url + "/a?b=1")
    [line] = wait_for_lines(log, 1)
    assert re.fullmatch(r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
                        r'"GET /a\?b=1 HTTP/1\.1" 200 13 \d+\.\d{6}', line), line


def test_custom_format_with_header_atoms(start_worker, tmp_path):
    log = tmp_path / "access.log"
    worker = start_worker("echo:headers_kept_and_dropped", "--logging-access-log", str(log),
                          "--logging-access-log-format", "%(s)s %({x-request-id}i)s %({x-kept}o)s %(a)s")
    requests.get(worker.url, headers={"X-Request-Id": "r-42", "User-Agent": "tester"})
    assert wait_for_lines(log, 1) == ["200 r-42 yes tester"]


def test_control_characters_cannot_reach_the_terminal(start_worker, tmp_path):
    # CTLs are refused in the head already (400); bytes >= 0x80 are legal obs-text, and \x9b is
    # the 8-bit CSI of terminals: the log escapes it.
    log = tmp_path / "access.log"
    worker = start_worker("echo:hello", "--logging-access-log", str(log),
                          "--logging-access-log-format", "%(r)s %(a)s")
    with worker.connect() as connection:
        connection.sendall(b"GET /\x9b2J HTTP/1.1\r\nHost: x\r\nUser-Agent: evil\x9b[2J\r\n\r\n")
        assert connection.read_response()[0] == 200
    [line] = wait_for_lines(log, 1)
    assert "\x9b" not in line
    assert line == "GET /\\x9b2J HTTP/1.1 evil\\x9b[2J"


def test_json_access_log(start_worker, tmp_path):
    log = tmp_path / "access.log"
    worker = start_worker("echo:hello", "--logging-access-log", str(log), "--logging-format", "json")
    requests.get(worker.url + "/j")
    record = json.loads(wait_for_lines(log, 1)[0])
    assert (record["target"], record["status"], record["bytes"]) == ("/j", 200, 13)


def test_refused_requests_are_in_the_error_log_not_the_access_log(start_worker, tmp_path):
    log = tmp_path / "access.log"
    worker = start_worker("echo:hello", "--logging-access-log", str(log))
    with worker.connect() as connection:
        connection.sendall(b"G(T / HTTP/1.1\r\n\r\n")
        assert connection.read_response()[0] == 400
    requests.get(worker.url + "/after")
    assert [line.split('"')[1] for line in wait_for_lines(log, 1)] == ["GET /after HTTP/1.1"]
    # The line is written before the 400 is sent, but reaches this test through a pipe.
    worker.wait_for_log("refused a request")
    assert "invalid method" in worker.log
