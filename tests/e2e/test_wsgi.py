"""PEP 3333 through the real worker with real clients."""

import http.client
import json
import os
import threading
import time

import pytest
import requests

from conftest import CONTEXT_MODE, read_response


def test_environ_has_every_required_key(start_worker):
    worker = start_worker("echo:environ_json")
    response = requests.post(worker.url + "/caf%C3%A9/a%20b?x=1&y=%20", data=b"payload",
                             headers={"Content-Type": "text/plain", "X-Custom": "v"})
    assert response.status_code == 200
    environ = response.json()
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == ""
    # PATH_INFO: percent-decoded bytes as a latin-1 str (PEP 3333).
    assert environ["PATH_INFO"] == "/caf\u00c3\u00a9/a b"
    assert environ["QUERY_STRING"] == "x=1&y=%20"
    assert environ["RAW_URI"] == "/caf%C3%A9/a%20b?x=1&y=%20"
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "7"
    assert "HTTP_CONTENT_TYPE" not in environ and "HTTP_CONTENT_LENGTH" not in environ
    assert environ["HTTP_X_CUSTOM"] == "v"
    assert environ["HTTP_HOST"] == f"127.0.0.1:{worker.port}"
    assert environ["SERVER_NAME"] == "127.0.0.1"
    assert environ["SERVER_PORT"] == str(worker.port)
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert int(environ["REMOTE_PORT"]) > 0
    assert environ["wsgi.version"] == [1, 0]
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgi.multithread"] is False
    assert environ["wsgi.multiprocess"] is False
    assert environ["wsgi.run_once"] is False
    assert environ["wsgi.input_terminated"] is True
    assert "wsgi.errors" in environ and "wsgi.file_wrapper" in environ
    assert environ["body"] == "payload"


def test_multithread_flag_follows_contexts(start_worker):
    worker = start_worker("echo:environ_json", "--contexts", "2")
    environ = requests.get(worker.url).json()
    # Own-GIL contexts each have their own copy of the app: to it, they are other processes.
    assert environ["wsgi.multithread"] is (CONTEXT_MODE == "thread")
    assert environ["wsgi.multiprocess"] is (CONTEXT_MODE == "owngil")


def test_headers_with_underscores_are_dropped_and_repeats_joined(start_worker):
    worker = start_worker("echo:environ_json")
    with worker.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX_Smuggled: 1\r\nX-Smuggled: 2\r\n"
                     b"Accept: a\r\nAccept: b\r\n\r\n")
        status, _, body = read_response(sock)
    environ = json.loads(body)
    assert status == 200
    assert environ["HTTP_X_SMUGGLED"] == "2"
    assert environ["HTTP_ACCEPT"] == "a, b"


def test_chunked_request_body(start_worker):
    worker = start_worker("echo:echo_body")
    with worker.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        status, _, body = read_response(sock)
    assert (status, body) == (200, b"hello world")


def test_response_without_length_is_chunked_on_http11_and_close_delimited_on_http10(start_worker):
    worker = start_worker("echo:echo_body_iterated")
    with worker.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        status, headers, body = read_response(sock)
        assert ("transfer-encoding", "chunked") in headers and body == b"abc"
    with worker.connect() as sock:
        sock.sendall(b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
        status, headers, body = read_response(sock)
        assert status == 200 and body == b"abc"
        assert "transfer-encoding" not in dict(headers)
        assert dict(headers).get("connection") == "close"


# PEP 3333: a body of one item has a length the server can give (wsgiref does): no chunks on
# HTTP/1.1, and an HTTP/1.0 client that asks for keep-alive keeps its connection.
def test_a_one_item_body_goes_with_its_content_length(start_worker):
    worker = start_worker("echo:echo_body")
    with worker.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        status, headers, body = read_response(sock)
        assert (status, body) == (200, b"abc")
        assert dict(headers).get("content-length") == "3" and "transfer-encoding" not in dict(headers)
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")  # HEAD: the app's empty body says nothing
        head = sock._take_until(b"\r\n\r\n").lower()
        assert b"content-length: 0" not in head
    with worker.connect() as sock:
        for _ in range(2):
            sock.sendall(b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nxyz")
            status, headers, body = read_response(sock)
            assert (status, body, dict(headers).get("content-length")) == (200, b"xyz", "3")
            assert dict(headers).get("connection", "").lower() == "keep-alive"


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_for_204_and_304(start_worker, status):
    worker = start_worker("echo:status_from_path")
    with worker.connect() as sock:
        sock.sendall(f"GET /{status} HTTP/1.1\r\nHost: x\r\n\r\nGET /200 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        first, _, rest = head.partition(b"\r\n\r\n")
        assert first.startswith(f"HTTP/1.1 {status}".encode())
        assert b"transfer-encoding" not in first.lower() and b"content-length" not in first.lower()
        # The next response follows at once: no body bytes were sent for the first one.
        while b"\r\n\r\n" not in rest:
            rest += sock.recv(65536)
        assert rest.startswith(b"HTTP/1.1 200")


def test_head_has_headers_and_no_body(start_worker):
    worker = start_worker("echo:hello")
    with worker.connect() as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while data.count(b"Hello, World!") < 1:
            data += sock.recv(65536)
    first, _, second = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 13" in first
    assert second.startswith(b"HTTP/1.1 200")  # the HEAD response carried no body


def test_streamed_response_reaches_the_client_chunk_by_chunk(start_worker, tmp_path):
    worker = start_worker("echo:stream_until_file")
    marker = tmp_path / "go"
    with requests.get(worker.url + "/?" + str(marker), stream=True) as response:
        chunks = response.iter_content(chunk_size=None)
        # The second chunk is only produced once we have seen the first one.
        assert next(chunks) == b"data: first\n\n"
        marker.write_text("go")
        assert b"".join(chunks) == b"data: second\n\n"


def test_close_is_called_after_success(start_worker, tmp_path):
    worker = start_worker("echo:closing_ok")
    marker = tmp_path / "closed"
    assert requests.get(worker.url + "/?" + str(marker)).content == b"ab"
    assert marker.read_text() == "closed"


def test_close_is_called_when_the_client_goes_away(start_worker, tmp_path):
    worker = start_worker("echo:endless_until_closed")
    marker = tmp_path / "closed"
    with worker.connect() as sock:
        sock.sendall(f"GET /?{marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.recv(65536)
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.read_text() == "closed"


def test_exception_before_start_is_a_500_with_traceback_in_the_log(start_worker):
    worker = start_worker("echo:raises_before_start")
    response = requests.get(worker.url + "/x")
    assert response.status_code == 500
    worker.wait_for_log("ValueError: the app failed before start_response")
    assert "Traceback (most recent call last)" in worker.log
    assert requests.get(worker.url).status_code == 500  # and the worker keeps serving


def test_exception_mid_stream_truncates_the_response(start_worker, tmp_path):
    worker = start_worker("echo:closing_fails_midstream")
    marker = tmp_path / "closed"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(worker.url + "/?" + str(marker)).content
    worker.wait_for_log("RuntimeError: boom in the middle of the body")
    assert marker.read_text() == "closed"


@pytest.mark.parametrize("app, why", [
    ("bad_status", "invalid status"), ("bad_header_value", "invalid header"),
    ("bad_header_type", "header value must be a str"), ("no_start_response", ""),
    ("yields_str", ""),
    ("unframed_content_length", "invalid Content-Length 'abc': expected a number of bytes"),
    ("two_content_lengths", "two different Content-Length values, 1 and 2"),
    ("interim_status", "invalid status '100 Continue': a response's status is 200 or more")])
def test_invalid_responses_are_500_never_split(start_worker, app, why):
    worker = start_worker("echo:" + app)
    with worker.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = read_response(sock)
    assert status == 500
    assert "x-injected" not in dict(headers)
    assert requests.get(worker.url).status_code == 500  # still serving
    worker.wait_for_log(why)


def test_what_gunicorn_takes_in_a_head_is_taken_and_sent_sound(start_worker):
    worker = start_worker("echo:lenient_head")
    with worker.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head = sock.recv(65536).split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"HTTP/1.1 201 Created"  # the status line's space and RFC 9110's phrase
    assert b"X-Pair: list" in head
    assert [line for line in head if line.lower().startswith(b"content-length")] == [b"Content-Length: 2"]


def test_hop_by_hop_headers_dropped_and_repeats_kept_in_order(start_worker):
    worker = start_worker("echo:headers_kept_and_dropped")
    with worker.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = read_response(sock)
    assert [value for name, value in headers if name == "set-cookie"] == ["a=1", "b=2", "c=3"]
    names = [name for name, _ in headers]
    assert "keep-alive" not in names and "connection" not in names
    assert ("transfer-encoding", "gzip") not in headers
    assert ("x-kept", "yes") in headers and body == b"ok"


def test_write_callable(start_worker):
    worker = start_worker("echo:uses_write")
    assert requests.get(worker.url).text == "written, then returned"


def test_exc_info_after_the_head_reraises_and_truncates(start_worker):
    worker = start_worker("echo:exc_info_after_start")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(worker.url).content
    worker.wait_for_log("KeyError: 'late'")


def test_exc_info_before_the_body_replaces_the_head(start_worker):
    worker = start_worker("echo:exc_info_before_body")
    response = requests.get(worker.url)
    assert response.status_code == 503
    assert response.headers.get("X-Second") == "2" and "X-First" not in response.headers
    assert response.content == b"replaced"


def test_start_response_takes_its_arguments_by_position_or_by_name(start_worker):
    worker = start_worker("echo:start_response_arguments")
    response = requests.get(worker.url)
    outcome = dict(line.split(": ", 1) for line in response.text.splitlines())
    # The first valid call makes the head; each later one without exc_info is refused.
    assert response.status_code == 201 and response.headers.get("X-Named") == "1"
    assert outcome["names"] == "ok"
    assert outcome["exc_info_none"] == "RuntimeError"  # exc_info=None is no exc_info
    assert outcome["positional"] == "RuntimeError"
    assert outcome["no_headers"] == "TypeError: start_response() missing required argument 'headers'"
    assert outcome["four"] == "TypeError: start_response() takes at most 3 arguments (4 given)"
    assert outcome["unknown_name"] == "TypeError: start_response() got an unexpected keyword argument 'colour'"
    assert outcome["twice_status"] == "TypeError: start_response() got multiple values for argument 'status'"


def test_file_wrapper_sends_the_file(start_worker, tmp_path):
    worker = start_worker("echo:file_wrapper")
    data = os.urandom(300_000)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert requests.get(worker.url + "/?" + str(path)).content == data


def test_contexts_serve_concurrently(start_worker):
    worker = start_worker("echo:sleeps", "--contexts", "4")
    results = []

    def fetch():
        results.append(requests.get(worker.url + "/?1").status_code)

    started = time.monotonic()
    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert results == [200] * 4
    assert elapsed < 3.0, f"4 requests sleeping 1 s on 4 contexts took {elapsed:.1f} s"


def test_a_context_keeps_its_thread_state_across_requests(start_worker):
    worker = start_worker("echo:thread_local_counter")
    with requests.Session() as session:
        answers = [session.get(worker.url).text.split() for _ in range(3)]
    assert len({ident for ident, _ in answers}) == 1
    assert [int(count) for _, count in answers] == [1, 2, 3]
