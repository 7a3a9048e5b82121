"""A malformed request body is the client's error: 400 with Connection: close whatever the app
does with the exception (hornbeam.BadRequestBody, an OSError; ASGI: http.disconnect), one
warning line naming the peer and the reason, no traceback, status 400 in the access log."""

import re
import socket
import time

import pytest

HEAD = b"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
GOOD_CHUNK = b"3\r\nabc\r\n"  # the app has started reading when the damage comes

MALFORMED = {
    "size-not-hex": b"zz\r\nhello\r\n0\r\n\r\n",
    "size-0x-prefix": b"0x5\r\nhello\r\n0\r\n\r\n",
    "size-plus-sign": b"+5\r\nhello\r\n0\r\n\r\n",
    "size-minus-sign": b"-5\r\nhello\r\n0\r\n\r\n",
    "size-over-64-bits": b"10000000000000005\r\nhello\r\n0\r\n\r\n",
    "data-longer-than-size": b"5\r\nhelloEXTRA\r\n0\r\n\r\n",
    "bare-lf-after-size": b"5\nhello\r\n0\r\n\r\n",
    "bare-lf-after-data": b"5\r\nhello\n0\r\n\r\n",
    "no-crlf-after-data": b"5\r\nhello0\r\n\r\n",
    "bad-extension": b"5;=x\r\nhello\r\n0\r\n\r\n",
    "bad-extension-quote": b'5;a="unterminated\r\nhello\r\n0\r\n\r\n',
    "trailer-content-length": b"0\r\nContent-Length: 5\r\n\r\n",
    "trailer-host": b"0\r\nHost: elsewhere\r\n\r\n",
    "trailer-transfer-encoding": b"0\r\nTransfer-Encoding: chunked\r\n\r\n",
    "trailer-bare-lf": b"0\r\nX-Trailer: 1\n\r\n",
}


def send_malformed(port, path, damage):
    """(status, headers, closed): the answer to a chunked body with `damage` after one good chunk."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(HEAD.replace(b"{path}", path.encode()) + GOOD_CHUNK)
        time.sleep(0.05)  # the app reads the good chunk first
        sock.sendall(damage)
        received = b""
        sock.settimeout(10)
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
    head = received.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1]) if head[0] else None
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:])}
    return status, headers, received


@pytest.fixture(scope="module")
def wsgi_worker():
    from conftest import Worker
    worker = Worker("echo:upload_digest")
    yield worker
    worker.stop()


@pytest.mark.parametrize("damage", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_body_is_a_400_not_the_apps_500(wsgi_worker, damage):
    before = len(wsgi_worker.lines)
    status, headers, _ = send_malformed(wsgi_worker.port, "/", damage)
    assert status == 400 and headers.get("connection") == "close"
    wsgi_worker.wait_for_log("refused the body of a request from 127.0.0.1:")
    time.sleep(0.1)  # anything the app's failure would log comes right after
    new = "".join(wsgi_worker.lines[before:])
    assert re.search(r"\[warning\] refused the body of a request from 127\.0\.0\.1:\d+ with 400: ", new), new
    assert "Traceback" not in new and "[error]" not in new, new


def test_an_app_that_catches_the_error_sees_bad_request_body_and_the_client_still_gets_400(
        start_worker, tmp_path):
    worker = start_worker("echo:catches_body_error")
    marker = tmp_path / "caught"
    status, _, received = send_malformed(worker.port, f"/?{marker}", MALFORMED["size-not-hex"])
    assert status == 400
    assert b"caught" not in received  # the app's own answer never goes out
    deadline = time.monotonic() + 5
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.read_text() == "BadRequestBody True"  # and an OSError: it was caught as one


def test_the_access_log_says_400(start_worker, tmp_path):
    access = tmp_path / "access.log"
    worker = start_worker("echo:upload_digest", "--logging-access-log", str(access))
    assert send_malformed(worker.port, "/upload", MALFORMED["data-longer-than-size"])[0] == 400
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (access.exists() and access.read_text()):
        time.sleep(0.02)
    assert '"POST /upload HTTP/1.1" 400 ' in access.read_text()


def test_a_started_response_is_cut_and_the_log_says_why(start_worker):
    worker = start_worker("echo:streams_then_reads_body")
    status, _, received = send_malformed(worker.port, "/", MALFORMED["size-not-hex"])
    assert status == 200 and received.endswith(b"started\n\r\n")  # no terminating chunk: cut
    worker.wait_for_log("after the response had started (chunk size is not hexadecimal): the connection was closed")
    assert "Traceback" not in worker.log


@pytest.mark.parametrize("damage", [MALFORMED["size-not-hex"], MALFORMED["trailer-host"]],
                         ids=["bad-chunk", "forbidden-trailer"])
def test_asgi_receive_gets_http_disconnect_and_the_client_400(start_worker, damage):
    worker = start_worker("asgi_app:app", "-k", "asgi")
    status, headers, received = send_malformed(worker.port, "/body-or-disconnect", damage)
    assert status == 400 and headers.get("connection") == "close"
    assert b"http.disconnect" not in received
    worker.wait_for_log("refused the body of a request from 127.0.0.1:")
    time.sleep(0.1)
    assert "Traceback" not in worker.log and "[error]" not in worker.log, worker.log
