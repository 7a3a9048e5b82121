"""HTTP/1.1 behaviour of the worker: keep-alive, pipelining, HTTP/1.0, limits, refusals."""

import json
import socket
import time

import pytest
import requests

from conftest import read_response


def test_keep_alive_serves_several_requests_on_one_connection(start_worker):
    worker = start_worker("echo:hello")
    with worker.connect() as sock:
        for _ in range(3):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = read_response(sock)
            assert (status, body) == (200, b"Hello, World!")
            assert "connection" not in dict(headers)


# A connection reads each head into the fields of the one before (their memory is reused):
# the app sees exactly the fields of its own request, fewer, more or longer than the last one's.
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_each_request_on_a_connection_sees_only_its_own_fields(start_worker, kind):
    worker = start_worker("echo:environ_json") if kind == "wsgi" else start_worker("asgi_app:app", "-k", "asgi")
    heads = [
        {"Host": "x", "User-Agent": "a" * 90, "Accept": "*/*", "X-One": "1"},
        {"Host": "x"},
        {"Host": "x", "X-Two": "b" * 200, "Accept": "text/html", "X-Three": "3", "X-Four": "4", "X-Five": "5"},
        {"Host": "x", "User-Agent": "short"},
    ]
    with worker.connect() as sock:
        for fields in heads:
            path = "/" if kind == "wsgi" else "/scope"
            sock.sendall(f"GET {path} HTTP/1.1\r\n".encode() + b"".join(
                f"{name}: {value}\r\n".encode() for name, value in fields.items()) + b"\r\n")
            status, _, body = read_response(sock)
            assert status == 200
            seen = json.loads(body)
            if kind == "wsgi":
                got = {key[5:].replace("_", "-").lower(): value for key, value in seen.items() if key.startswith("HTTP_")}
            else:
                got = {pair["items"][0]["bytes"]: pair["items"][1]["bytes"] for pair in seen["headers"]["items"]}
            assert got == {name.lower(): value for name, value in fields.items()}


def test_pipelined_requests_are_answered_in_order(start_worker):
    worker = start_worker("echo:environ_json")
    with worker.connect() as connection:
        connection.sendall(b"".join(f"GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(5)))
        paths = [json.loads(read_response(connection)[2])["PATH_INFO"] for _ in range(5)]
    assert paths == [f"/{i}" for i in range(5)]


def test_empty_lines_before_a_request_line_are_ignored(start_worker):
    """RFC 9112 §2.2: a CRLF a client did not count after a body (as old browsers sent after a
    POST), or before its first request, is not a malformed request; even split across reads."""
    worker = start_worker("echo:environ_json")
    with worker.connect() as connection:
        connection.sendall(b"\r\nPOST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\r\n")
        first = json.loads(read_response(connection)[2])
        connection.sendall(b"\r\n\r")
        time.sleep(0.1)  # likely gives the lone CR a read of its own; the answers do not depend on it
        connection.sendall(b"\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = read_response(connection)
    assert (first["PATH_INFO"], first["body"]) == ("/first", "abc")
    assert (status, json.loads(body)["PATH_INFO"]) == (200, "/second")


def test_http10_closes_by_default_and_keeps_alive_when_asked(start_worker):
    worker = start_worker("echo:hello")
    with worker.connect() as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        status, headers, body = read_response(sock)
        assert status == 200 and body == b"Hello, World!"
        assert dict(headers)["connection"] == "close"
        assert sock.recv(10) == b""
    with worker.connect() as sock:
        for _ in range(2):
            sock.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            status, headers, body = read_response(sock)
            assert dict(headers)["connection"] == "keep-alive"


def test_connection_close_is_honoured(start_worker):
    worker = start_worker("echo:hello")
    with worker.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, _ = read_response(sock)
        assert dict(headers)["connection"] == "close"
        assert sock.recv(10) == b""


# A head without a body is served from the worker's own reading of it, one with a body through
# Beast's parser as well: both read the Connection fields the same way (every field, any case).
@pytest.mark.parametrize("body", [False, True], ids=["bodiless", "with body"])
@pytest.mark.parametrize("fields, version, closes", [
    (b"Connection: TE\r\nConnection: Close\r\n", b"1.1", True),
    (b"Connection: closed\r\n", b"1.1", False),
    (b"Connection: foo, Keep-Alive\r\n", b"1.0", False),
    (b"Connection: keep-alive\r\nConnection: close\r\n", b"1.0", True),
])
def test_every_connection_field_counts_with_or_without_a_body(start_worker, body, fields, version, closes):
    worker = start_worker("echo:echo_body")
    framing = b"Content-Length: 2\r\n" if body else b""
    payload = b"hi" if body else b""
    with worker.connect() as sock:
        sock.sendall(b"POST / HTTP/" + version + b"\r\nHost: x\r\n" + fields + framing + b"\r\n" + payload)
        status, headers, answer = read_response(sock)
        assert (status, answer) == (200, payload)
        assert dict(headers).get("connection") == ("close" if closes else ("keep-alive" if version == b"1.0" else None))
        if closes:
            assert sock.recv(10) == b""
        else:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_response(sock)[0] == 200


def test_date_and_server_headers(start_worker):
    worker = start_worker("echo:hello")
    response = requests.get(worker.url)
    assert response.headers["Server"] == "hornbeam"
    assert response.headers["Date"].endswith(" GMT")


def test_absolute_form_target(start_worker):
    worker = start_worker("echo:environ_json")
    with worker.connect() as sock:
        sock.sendall(b"GET http://example.com/p/q?z=9 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        status, _, body = read_response(sock)
        environ = json.loads(body)
        assert (environ["PATH_INFO"], environ["QUERY_STRING"]) == ("/p/q", "z=9")
        # RFC 9112 §3.2.2: the target's authority is the host, whatever Host says.
        sock.sendall(b"GET http://user@other.example:8080?a HTTP/1.1\r\nHost: example.com\r\n\r\n")
        status, _, body = read_response(sock)
        environ = json.loads(body)
        assert (environ["HTTP_HOST"], environ["PATH_INFO"], environ["QUERY_STRING"]) == (
            "other.example:8080", "/", "a")
    with worker.connect() as sock:  # HTTP/1.0 needs no Host: the target gives one
        sock.sendall(b"GET http://example.org/x HTTP/1.0\r\n\r\n")
        status, _, body = read_response(sock)
    assert json.loads(body)["HTTP_HOST"] == "example.org"


def test_expect_100_continue(start_worker):
    worker = start_worker("echo:echo_body")
    with worker.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"hello")
        status, _, body = read_response(sock)
    assert (status, body) == (200, b"hello")


def exchange(worker, raw):
    """Sends raw bytes; returns the status of the answer and whether the server then closed."""
    with worker.connect() as sock:
        sock.sendall(raw)
        status, _, _ = read_response(sock)
        sock.settimeout(5)
        try:
            closed = sock.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            closed = True
    return status, closed


def test_request_line_too_long_is_414(start_worker):
    worker = start_worker("echo:hello", "--limits-max-request-line", "1024")
    status, closed = exchange(worker, b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (status, closed) == (414, True)
    worker.wait_for_log("limits.max_request_line")
    assert requests.get(worker.url).status_code == 200


def test_header_field_too_large_is_431(start_worker):
    worker = start_worker("echo:hello", "--limits-max-header-size", "1024")
    status, closed = exchange(worker, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 1500 + b"\r\n\r\n")
    assert (status, closed) == (431, True)
    worker.wait_for_log("limits.max_header_size")
    assert requests.get(worker.url).status_code == 200


def test_too_many_header_fields_is_431(start_worker):
    worker = start_worker("echo:hello", "--limits-max-headers", "10")
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(20))
    status, closed = exchange(worker, b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert (status, closed) == (431, True)
    worker.wait_for_log("limits.max_headers")
    assert requests.get(worker.url).status_code == 200


def test_body_over_max_body_size_is_413(start_worker):
    worker = start_worker("echo:echo_body", "--limits-max-body-size", "1KiB")
    status, closed = exchange(worker, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
    assert (status, closed) == (413, True)
    worker.wait_for_log("limits.max_body_size")
    assert requests.post(worker.url, data=b"small").content == b"small"


@pytest.mark.parametrize("raw", [
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n",
    b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep alive\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nProxy-Connection: \"close\"\r\n\r\n",
], ids=["cl-and-te", "repeated-cl", "signed-cl", "junk-cl", "te-not-chunked", "bad-chunk-size", "obs-fold",
        "bare-cr", "empty-name", "bad-method", "bad-version", "connection-not-tokens", "proxy-connection-quoted"])
def test_ambiguous_or_malformed_requests_are_refused(start_worker, raw):
    worker = start_worker("echo:echo_body")
    status, closed = exchange(worker, raw)
    assert 400 <= status < 600 and closed
    assert requests.post(worker.url, data=b"still").content == b"still"


@pytest.mark.parametrize("raw", [
    b"GET / HTTP/1.1\nHost: x\n\n",
    b"GET / HTTP/1.1\r\nHost: x\n\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\n\r\n",
    b"GET / HTTP/1.1\n",  # the head has not even ended: refused as soon as the LF is seen
], ids=["all-lines", "header-line", "last-field", "request-line-only"])
def test_bare_lf_line_endings_are_refused_at_once(start_worker, raw):
    # The header timeout is long: an answer within 5 s shows the server did not wait for it.
    worker = start_worker("echo:hello", "--limits-header-timeout", "60s")
    started = time.monotonic()
    status, closed = exchange(worker, raw)
    assert (status, closed) == (400, True)
    assert time.monotonic() - started < 5
    worker.wait_for_log("bare LF in the request head")


def test_slow_request_head_is_cut_after_header_timeout(start_worker):
    worker = start_worker("echo:hello", "--limits-header-timeout", "500ms")
    with worker.connect() as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\n")
        sock.settimeout(10)
        for _ in range(100):
            try:
                sock.sendall(b"X-Drip: 1\r\n")  # trickling in, never finishing the head
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                if sock.recv(1, socket.MSG_DONTWAIT) == b"":
                    break
            except BlockingIOError:
                pass
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    assert elapsed < 3, "the deadline is for the whole head, not per byte"
    assert requests.get(worker.url).status_code == 200


def test_idle_keep_alive_connection_is_closed_after_keepalive(start_worker):
    # keepalive 1 s, header deadline 30 s: an idle connection goes after about 1 s, and the
    # long head deadline does not extend the idle time.
    worker = start_worker("echo:hello", "--keepalive", "1", "--limits-header-timeout", "30s")
    with worker.connect() as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.read_response()[0] == 200
        connection.settimeout(20)
        started = time.monotonic()
        assert connection.recv(1) == b""  # closed by the server while idle
        assert time.monotonic() - started < 10


def test_a_connection_in_use_longer_than_keepalive_stays_open(start_worker):
    # Each response starts a new idle time: requests 0.3 s apart for 3 s on one connection
    # with keepalive 1 s all get answers on it.
    worker = start_worker("echo:hello", "--keepalive", "1")
    with worker.connect() as connection:
        started = time.monotonic()
        while time.monotonic() - started < 3:
            connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert connection.read_response()[0] == 200
            time.sleep(0.3)
        connection.settimeout(20)
        idle_from = time.monotonic()
        assert connection.recv(1) == b""  # and it still closes once idle
        assert time.monotonic() - idle_from < 10


def test_a_started_head_gets_header_timeout_not_keepalive(start_worker):
    worker = start_worker("echo:hello", "--keepalive", "1", "--limits-header-timeout", "30s")
    with worker.connect() as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.read_response()[0] == 200
        connection.sendall(b"GET / HTTP/1.1\r\n")  # the next head has begun...
        time.sleep(2)  # ...and takes longer than keepalive: that is header_timeout's business
        connection.sendall(b"Host: x\r\n\r\n")
        assert connection.read_response()[0] == 200


def test_keepalive_zero_closes_after_each_response(start_worker):
    worker = start_worker("echo:hello", "--keepalive", "0")
    with worker.connect() as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = connection.read_response()
        assert status == 200 and dict(headers)["connection"] == "close"
        assert connection.recv(1) == b""
