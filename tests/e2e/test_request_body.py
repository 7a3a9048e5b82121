"""Request bodies: buffered below limits.body_buffer_threshold, streamed above it."""

import hashlib
import http.client
import json
import os
import re
import socket
import time

import pytest
import requests
from peers import wait_for_file


def test_large_body_streams_through_intact(start_worker):
    worker = start_worker("echo:upload_digest")
    data = os.urandom(3 * 1024 * 1024 + 7)
    response = requests.post(worker.url, data=data)
    assert response.text == f"{len(data)} {hashlib.sha256(data).hexdigest()}"


def test_chunked_body_streams_through_intact(start_worker):
    worker = start_worker("echo:upload_digest")
    pieces = [os.urandom(size) for size in (1, 70000, 3, 200000)]
    response = requests.post(worker.url, data=iter(pieces))  # a generator: chunked encoding
    data = b"".join(pieces)
    assert response.text == f"{len(data)} {hashlib.sha256(data).hexdigest()}"


# A Content-Length body's read(n) is read from the socket straight into the bytes it returns
# once what arrived before is taken: whatever the sizes and however the client sends, the
# bytes come in order.
@pytest.mark.parametrize("pace", ["at once", "in pieces"])
def test_reads_of_any_size_get_the_body_in_order_however_it_arrives(start_worker, pace):
    worker = start_worker("echo:reads_in_sizes")
    body = b"a first line\n" + os.urandom(600_000)
    with worker.connect() as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        if pace == "at once":
            connection.sendall(body)
        else:  # pieces that leave each read(n) part filled while it waits
            for offset in range(0, len(body), 50_000):
                connection.sendall(body[offset:offset + 50_000])
                time.sleep(0.01)
        status, _, answer = connection.read_response()
    assert status == 200
    assert json.loads(answer) == {"lengths": [13, 70000, 3, 300000, len(body) - 370016],
                                  "sha256": hashlib.sha256(body).hexdigest()}


# The client leaves while read(n) waits with its memory lent to the socket's reads: the app
# gets an OSError (never bytes written into memory it no longer has), and the worker serves on.
def test_a_client_leaving_during_a_large_read_gets_the_app_an_oserror(start_worker, tmp_path):
    worker = start_worker("echo:big_read_until_gone")
    marker = tmp_path / "caught"
    with worker.connect() as connection:
        connection.sendall(b"POST /?%s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
                           % str(marker).encode() + b"x" * 100_000)
        time.sleep(0.2)  # the app is in its read, with most of the body still to come
    assert wait_for_file(marker, "OSError").startswith("OSError: client disconnected")
    assert requests.post(worker.url + "?" + str(marker), data=b"y" * 300_000).text == "read 300000"


def test_readline_readlines_and_iteration_on_a_streamed_body(start_worker):
    worker = start_worker("echo:input_lines")
    body = b"first line\nabcdef\nthird\nfourth\nfifth\nlast without newline"
    with worker.connect() as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for index in range(0, len(body), 5):
            piece = body[index:index + 5]
            connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.sendall(b"0\r\n\r\n")
        status, _, answer = connection.read_response()
    assert status == 200
    assert json.loads(answer) == ["first line\n", "abc", "def\n", ["third\n"],
                                  ["fourth\n", "fifth\n", "last without newline"]]


def test_100_continue_is_sent_only_when_the_app_reads(start_worker):
    worker = start_worker("echo:ignores_body")
    with worker.connect() as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        status, headers, body = connection.read_response()  # the final answer, no 100 before it
        assert (status, body) == (200, b"did not read")
        # The unread body would still be on the wire: the server closes instead of reading it.
        assert connection.recv(1) == b""
    worker2 = start_worker("echo:echo_body")
    with worker2.connect() as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert connection.read_response()[0] == 100
        connection.sendall(b"hello")
        assert connection.read_response()[2] == b"hello"


def test_streamed_body_over_max_body_size_is_413(start_worker):
    worker = start_worker("echo:upload_digest", "--limits-max-body-size", "100KiB")
    response = requests.post(worker.url, data=iter([b"x" * 65536] * 4))  # chunked, 256 KiB
    assert response.status_code == 413
    worker.wait_for_log("limits.max_body_size")
    assert requests.post(worker.url, data=b"small").status_code == 200


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1))


@pytest.mark.skipif(bool(os.environ.get("HB_TEST_SANITIZE")),
                    reason="sanitizers keep freed memory in quarantine: RSS measures them, not the worker")
@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_one_gib_upload_keeps_memory_growth_under_64_mib(start_worker, framing):
    worker = start_worker("echo:upload_digest")
    requests.post(worker.url, data=b"warm-up")
    before = peak_rss_kib(worker.process.pid)
    piece = b"u" * (1024 * 1024)
    size = 1024 * len(piece)

    def body():
        for _ in range(1024):
            yield piece

    if framing == "chunked":
        answer = requests.post(worker.url, data=body()).text
    else:  # requests would add Transfer-Encoding to a generator: http.client sends it as it is
        connection = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=60)
        connection.putrequest("POST", "/")
        connection.putheader("Content-Length", str(size))
        connection.endheaders()
        for piece_sent in body():
            connection.send(piece_sent)
        answer = connection.getresponse().read().decode()
        connection.close()
    expected = hashlib.sha256()
    for _ in range(1024):
        expected.update(piece)
    assert answer == f"{size} {expected.hexdigest()}"
    growth_mib = (peak_rss_kib(worker.process.pid) - before) / 1024
    assert growth_mib < 64, f"the worker grew by {growth_mib:.0f} MiB for a 1 GiB upload"


@pytest.mark.parametrize("app, framing", [("echo:upload_digest", "length"), ("echo:upload_digest", "chunked"),
                                          ("asgi_app:app", "length")])
def test_a_body_the_client_stops_sending_gets_408(start_worker, app, framing):
    # The app waits in its read for bytes the client holds back; without a deadline its
    # context waited too (for ever standalone; under the arbiter until `timeout` replaced the
    # whole worker, every request on it cut).
    kind = "asgi" if app.startswith("asgi") else "wsgi"
    worker = start_worker(app, "-k", kind, "--contexts", "1", "--limits-body-timeout", "1s")
    head = (b"POST /echo HTTP/1.1\r\nHost: x\r\n"
            + (b"Transfer-Encoding: chunked\r\n\r\n30000\r\n" if framing == "chunked"
               else b"Content-Length: 1000000\r\n\r\n"))
    with socket.create_connection(("127.0.0.1", worker.port)) as stalled:
        started = time.monotonic()
        stalled.sendall(head + b"x" * 100_000)  # streamed (over 64 KiB), then nothing more
        stalled.settimeout(10)
        answer = stalled.recv(4096)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert 0.9 < waited < 5
    worker.wait_for_log("(limits.body_timeout): answered 408")
    assert requests.get(worker.url + "/echo", timeout=10).status_code == 200  # the context is free again
    assert "error handling" not in worker.log  # the client's fault: the app's failed read is not an error


def test_a_body_that_keeps_coming_slowly_is_not_cut(start_worker):
    # The deadline is for the wait between two of the client's sends, not for the whole body.
    worker = start_worker("echo:upload_digest", "--limits-body-timeout", "1s")

    def trickle():
        for _ in range(6):
            yield b"y" * 70_000
            time.sleep(0.4)

    response = requests.post(worker.url, data=trickle(), timeout=30)
    assert response.text.split()[0] == str(6 * 70_000)
