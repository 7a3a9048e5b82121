"""HTTP/2: h2c (prior knowledge and Upgrade), h2 over TLS by ALPN, flow control both ways, and
the attacks of the last years, with real clients (curl, h2load, Python's h2) and raw frames."""

import hashlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest
from hyperframe.frame import (ContinuationFrame, DataFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

from conftest import systemd_activation
from h2_client import ERROR_CODES, H2Client, RawH2

ENHANCE_YOUR_CALM = 11


def curl(*args):
    result = subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def served_after(worker):
    """The worker still serves a new connection (after an attack on another one)."""
    client = H2Client(worker.port)
    try:
        assert client.get("/environ")[0] == 200
    finally:
        client.close()
    assert worker.process.poll() is None


def wait_for_file(path, timeout=10, size=1):
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size >= size):
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.01)


# --- what apps see ---------------------------------------------------------------------------


def test_h2c_prior_knowledge_reaches_a_wsgi_app_as_http2(start_worker, tmp_path):
    access = tmp_path / "access.log"
    worker = start_worker("h2_app:wsgi", "--logging-access-log", str(access))
    out = curl("--http2-prior-knowledge", "-H", "Cookie: a=1", "-H", "X-Custom: yes",
               "-w", "\n%{http_version}", f"{worker.url}/environ?q=1")
    body, version = out.rsplit("\n", 1)
    environ = json.loads(body)
    assert version == "2"
    assert environ["SERVER_PROTOCOL"] == "HTTP/2"
    assert environ["HTTP_HOST"] == f"127.0.0.1:{worker.port}"  # from :authority
    assert environ["wsgi.url_scheme"] == "http" and environ["QUERY_STRING"] == "q=1"
    assert environ["HTTP_X_CUSTOM"] == "yes"
    # Cookie crumbs (RFC 9113 §8.2.3) reach the app as one field.
    client = H2Client(worker.port)
    status, body = client.get("/environ", headers=[("cookie", "a=1"), ("cookie", "b=2")])
    assert status == 200 and json.loads(body)["HTTP_COOKIE"] == "a=1; b=2"
    client.close()
    deadline = time.monotonic() + 5
    while '"GET /environ?q=1 HTTP/2.0" 200' not in access.read_text():
        assert time.monotonic() < deadline, access.read_text()
        time.sleep(0.02)


def test_asgi_scope_and_trailers_over_h2(start_worker):
    worker = start_worker("h2_app:asgi", "-k", "asgi")
    client = H2Client(worker.port)
    status, body = client.get("/scope", headers=[("x-custom", "yes")])
    scope = json.loads(body)
    assert status == 200 and scope["http_version"] == "2" and scope["scheme"] == "http"
    assert ["host", "localhost"] in scope["headers"] and ["x-custom", "yes"] in scope["headers"]
    assert "http.response.trailers" in scope["extensions"]
    assert not any(name.startswith(":") for name, _ in scope["headers"])
    response = client.wait(client.start("/trailers", headers=[("te", "trailers")]))
    assert response.body == b"part one, part two"
    assert response.trailers == {"x-checksum": "abc123"}
    client.close()


def test_many_streams_on_one_connection_each_get_their_own_answer(start_worker):
    worker = start_worker("h2_app:asgi", "-k", "asgi")
    client = H2Client(worker.port)
    streams = {client.start(f"/path-{index}"): index for index in range(60)}
    client.pump(lambda: all(client.responses[s].ended for s in streams))
    for stream, index in streams.items():
        assert json.loads(client.responses[stream].body)["path"] == f"/path-{index}"
    client.close()


def test_uploads_and_large_responses_arrive_whole(start_worker, tmp_path):
    worker = start_worker("h2_app:wsgi")
    upload = os.urandom(3 * 1024 * 1024 + 7)
    client = H2Client(worker.port)
    stream = client.start("/upload", method="POST", body=b"", end=False)
    rest = upload
    while rest:
        rest = client.send_body(stream, rest, end=True)
        if rest:
            client.pump(lambda: client.conn.local_flow_control_window(stream) > 0)
    response = client.wait(stream)
    assert response.body.decode() == f"{len(upload)} {hashlib.sha256(upload).hexdigest()}"
    response = client.wait(client.start("/stream?n=5"))
    assert response.body == b"".join(bytes([i]) * (1 << 20) for i in range(5))
    served = tmp_path / "file.bin"
    served.write_bytes(os.urandom(2 * 1024 * 1024 + 3))
    response = client.wait(client.start(f"/file?path={served}"))
    assert response.body == served.read_bytes()
    client.close()


# --- flow control as backpressure ------------------------------------------------------------


def test_an_upload_goes_only_as_far_as_the_app_has_read(start_worker, tmp_path):
    """http2.initial_window_size: the client can send that much ahead of the app, no more."""
    window = 64 * 1024
    worker = start_worker("h2_app:wsgi", "--http2-initial-window-size", str(window))
    started, go = tmp_path / "started", tmp_path / "go"
    client = H2Client(worker.port)
    client.pump(lambda: client.server_settings)
    assert client.server_settings[4] == window  # SETTINGS_INITIAL_WINDOW_SIZE
    upload = os.urandom(1024 * 1024)
    stream = client.start(f"/upload?started={started}&wait_for={go}", method="POST", body=b"",
                          end=False)
    rest = client.send_body(stream, upload, end=True)
    wait_for_file(started)
    # Nothing reopens the window while the app has not read: what arrives in half a second
    # is taken in (a WINDOW_UPDATE among it would show in the assertions below).
    deadline = time.monotonic() + 0.5
    while (remaining := deadline - time.monotonic()) > 0:
        client.sock.settimeout(remaining)
        try:
            data = client.sock.recv(65536)
        except socket.timeout:
            break
        for event in client.conn.receive_data(data):
            client.handle(event)
    assert len(upload) - len(rest) == window
    assert client.conn.local_flow_control_window(stream) == 0
    go.touch()
    while rest:
        client.pump(lambda: client.conn.local_flow_control_window(stream) > 0)
        rest = client.send_body(stream, rest, end=True)
    response = client.wait(stream)
    assert response.body.decode() == f"{len(upload)} {hashlib.sha256(upload).hexdigest()}"
    client.close()


def test_a_slow_reader_holds_back_the_app_not_the_workers_memory(start_worker, tmp_path):
    """A client that opens no window: the app's generator is held after a bounded amount."""
    worker = start_worker("h2_app:wsgi")
    progress = tmp_path / "progress"
    client = H2Client(worker.port, settings={4: 0}, auto_ack=False)  # INITIAL_WINDOW_SIZE 0
    stream = client.start(f"/stream?n=64&progress={progress}")
    wait_for_file(progress)
    time.sleep(1)
    produced = progress.stat().st_size
    assert produced <= 4, f"the app produced {produced} MiB for a client that read nothing"
    assert worker.process.poll() is None
    client.conn.update_settings({4: 1 << 20})
    client.conn.increment_flow_control_window(1 << 30)
    client.auto_ack = True
    client.flush()
    response = client.wait(stream, timeout=60)
    assert len(response.body) == 64 << 20 and progress.stat().st_size == 64
    client.close()


def test_a_zero_window_stall_ends_with_goaway(start_worker):
    worker = start_worker("h2_app:wsgi", "--http2-stall-timeout", "500ms")
    raw = RawH2(worker.port, settings={4: 0})  # no stream window
    raw.send(HeadersFrame(1, raw.header_block("/stream?n=8"), flags=["END_HEADERS", "END_STREAM"]))
    goaway = raw.goaway(timeout=10)
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    worker.wait_for_log("took none of a pending response for http2.stall_timeout")
    served_after(worker)


# --- attacks: each gets a GOAWAY and a log line, and the worker serves others ----------------


def test_a_header_block_that_never_ends_is_cut_after_the_header_timeout(start_worker):
    """Slow loris over HTTP/2: HEADERS without END_HEADERS, then nothing."""
    worker = start_worker("h2_app:wsgi", "--limits-header-timeout", "500ms")
    raw = RawH2(worker.port)
    raw.send(HeadersFrame(1, raw.header_block("/"), flags=[]))
    started = time.monotonic()
    goaway = raw.goaway(timeout=10)
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    assert time.monotonic() - started < 5
    worker.wait_for_log("a header block not complete within limits.header_timeout")
    served_after(worker)


@pytest.mark.parametrize("app", ["h2_app:wsgi", "h2_app:asgi"])
def test_a_body_the_client_stops_sending_gets_408_and_other_streams_go_on(start_worker, app):
    """A stream whose client sends part of its body, then nothing while the app reads:
    408 after limits.body_timeout (as over HTTP/1.1), the connection and its other streams
    unharmed."""
    kind = "asgi" if app.endswith("asgi") else "wsgi"
    worker = start_worker(app, "-k", kind, "--contexts", "2", "--limits-body-timeout", "1s")
    client = H2Client(worker.port)
    try:
        started = time.monotonic()
        stalled = client.start("/upload", method="POST", body=b"x" * 10_000, end=False)
        response = client.wait(stalled)
        assert int(response.headers[":status"]) == 408
        assert 0.9 < time.monotonic() - started < 5
        assert client.get("/environ")[0] == 200  # the same connection serves on
    finally:
        client.close()
    worker.wait_for_log("(limits.body_timeout): answered 408")
    assert "error handling" not in worker.log  # the client's fault: the app's failed read is not an error


def test_rapid_reset_is_cut_off(start_worker, tmp_path):
    """CVE-2023-44487: streams opened and reset at once. Streams reset while the app still runs
    them keep counting against http2.max_concurrent_streams."""
    started = tmp_path / "started"
    worker = start_worker("h2_app:wsgi", "--http2-max-concurrent-streams", "10")
    raw = RawH2(worker.port)
    frames = []
    for index in range(2000):
        stream = 2 * index + 1
        frames.append(HeadersFrame(stream, raw.header_block(f"/sleep?s=0.5&started={started}"),
                                   flags=["END_HEADERS", "END_STREAM"]))
        frames.append(RstStreamFrame(stream, error_code=8))
    raw.send(*frames)
    goaway = raw.goaway(timeout=15)
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    worker.wait_for_log("with GOAWAY ENHANCE_YOUR_CALM")
    # The app ran what one connection may run at once, not 2,000 requests.
    time.sleep(0.5)
    assert started.stat().st_size <= 10
    served_after(worker)


def test_a_continuation_flood_is_cut_off(start_worker):
    """CVE-2024-27316 class: a header block that never ends, in many CONTINUATION frames."""
    worker = start_worker("h2_app:wsgi")
    raw = RawH2(worker.port)
    frames = [HeadersFrame(1, raw.header_block("/"), flags=[])]
    for index in range(2000):
        frames.append(ContinuationFrame(1, raw.encoder.encode([(f"x-flood-{index}", "v" * 100)]),
                                        flags=[]))
    raw.send(*frames)
    goaway = raw.goaway()
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    worker.wait_for_log("Too many CONTINUATION frames")
    # Fewer frames, each large: the decoded header list passes http2.max_header_list_size.
    raw = RawH2(worker.port)
    raw.send(HeadersFrame(1, raw.header_block("/"), flags=[]),
             *[ContinuationFrame(1, raw.encoder.encode([(f"x-large-{index}", "v" * 15000)]), flags=[])
               for index in range(6)])
    goaway = raw.goaway()
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    worker.wait_for_log("GOAWAY ENHANCE_YOUR_CALM: a header list larger than http2.max_header_list_size")
    served_after(worker)


def test_an_hpack_bomb_is_cut_off(start_worker):
    """A header list that decodes to far more than its encoded size: one 4 KiB field in the
    dynamic table, then referenced a thousand times at one byte each."""
    worker = start_worker("h2_app:wsgi")
    raw = RawH2(worker.port)
    first = raw.header_block("/", [("x-bomb", "b" * 4000)])
    raw.send(HeadersFrame(1, first, flags=["END_HEADERS", "END_STREAM"]))
    # Index 62 is the newest dynamic entry: x-bomb, indexed by the encoder above.
    bomb = raw.header_block("/") + bytes([0x80 | 62]) * 1000
    raw.send(HeadersFrame(3, bomb, flags=["END_HEADERS", "END_STREAM"]))
    goaway = raw.goaway()
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    worker.wait_for_log("a header list larger than http2.max_header_list_size")
    served_after(worker)


@pytest.mark.parametrize("flood, reason", [
    (lambda: SettingsFrame(0), "a flood of SETTINGS frames"),
    (lambda: PingFrame(0, opaque_data=b"12345678"), "a flood of PING frames"),
])
def test_control_frame_floods_are_cut_off(start_worker, flood, reason):
    worker = start_worker("h2_app:wsgi")
    raw = RawH2(worker.port)
    raw.send(*[flood() for _ in range(5000)])
    goaway = raw.goaway()
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    worker.wait_for_log(reason)
    served_after(worker)


def test_stream_id_reuse_is_a_connection_error(start_worker):
    worker = start_worker("h2_app:wsgi")
    raw = RawH2(worker.port)
    raw.send(HeadersFrame(1, raw.header_block("/"), flags=["END_HEADERS", "END_STREAM"]))
    assert any(isinstance(f, DataFrame) and "END_STREAM" in f.flags for f in raw.frames(timeout=2))
    raw.send(HeadersFrame(1, raw.header_block("/"), flags=["END_HEADERS", "END_STREAM"]))
    goaway = raw.goaway()
    assert goaway is not None and ERROR_CODES[goaway.error_code] in ("PROTOCOL_ERROR", "STREAM_CLOSED")
    worker.wait_for_log("closed the HTTP/2 connection from 127.0.0.1")
    served_after(worker)


# --- conformance: the rules h2spec checks, answered as RFC 9113 says ------------------------

# (h2spec section, what the client sends after the preface, the expected answer): "GOAWAY x"
# is a connection error with code x, "RST x" a stream error on stream 1.
CONFORMANCE = [
    ("4.2 frame size", lambda raw: [DataFrame(1, b"x" * 20000, flags=["END_STREAM"])],
     "GOAWAY FRAME_SIZE_ERROR"),
    ("5.1 idle stream: DATA", lambda raw: [DataFrame(1, b"x")], "GOAWAY PROTOCOL_ERROR"),
    ("5.1.1 stream id even", lambda raw: [HeadersFrame(2, raw.header_block("/"),
                                                       flags=["END_HEADERS", "END_STREAM"])],
     "GOAWAY PROTOCOL_ERROR"),
    ("6.5.2 bad INITIAL_WINDOW_SIZE", lambda raw: [settings({4: 1 << 31})],
     "GOAWAY FLOW_CONTROL_ERROR"),
    ("6.5.2 bad ENABLE_PUSH", lambda raw: [settings({2: 2})], "GOAWAY PROTOCOL_ERROR"),
    ("6.5 SETTINGS on a stream", lambda raw: [stream_settings()], "GOAWAY PROTOCOL_ERROR"),
    ("6.7 PING of a bad size", lambda raw: [b"\x00\x00\x06\x06\x00\x00\x00\x00\x00" + b"123456"],
     "GOAWAY FRAME_SIZE_ERROR"),
    ("6.9.1 window overflow", lambda raw: [WindowUpdateFrame(0, window_increment=(1 << 31) - 1)],
     "GOAWAY FLOW_CONTROL_ERROR"),
    ("6.9 zero WINDOW_UPDATE", lambda raw: [WindowUpdateFrame(0, window_increment=0)],
     "GOAWAY PROTOCOL_ERROR"),
    ("8.2 uppercase field name", lambda raw: [HeadersFrame(1, raw.header_block("/", [("X-Up", "1")]),
                                                           flags=["END_HEADERS", "END_STREAM"])],
     "RST PROTOCOL_ERROR"),
    ("8.2.2 connection-specific field", lambda raw: [HeadersFrame(
        1, raw.header_block("/", [("connection", "keep-alive")]), flags=["END_HEADERS", "END_STREAM"])],
     "RST PROTOCOL_ERROR"),
    ("8.3 missing :path", lambda raw: [HeadersFrame(1, raw.encoder.encode(
        [(":method", "GET"), (":scheme", "http"), (":authority", "x")]),
        flags=["END_HEADERS", "END_STREAM"])], "RST PROTOCOL_ERROR"),
    ("8.1.1 content-length mismatch", lambda raw: [
        HeadersFrame(1, raw.encoder.encode([(":method", "POST"), (":path", "/"), (":scheme", "http"),
                                            (":authority", "x"), ("content-length", "10")]),
                     flags=["END_HEADERS"]),
        DataFrame(1, b"123", flags=["END_STREAM"])], "RST PROTOCOL_ERROR"),
]


def settings(values):
    frame = SettingsFrame(0)
    frame.settings = values
    return frame


def stream_settings():
    return b"\x00\x00\x00\x04\x00\x00\x00\x00\x01"  # an empty SETTINGS frame on stream 1


@pytest.mark.parametrize("section, frames, expected", CONFORMANCE, ids=[c[0] for c in CONFORMANCE])
def test_protocol_errors_get_the_rfcs_answer(start_worker, section, frames, expected):
    worker = start_worker("h2_app:wsgi")
    raw = RawH2(worker.port)
    raw.send(*frames(raw))
    kind, code = expected.split()
    answer = None
    for frame in raw.frames(timeout=5):
        if type(frame).__name__ == "GoAwayFrame":
            answer = f"GOAWAY {ERROR_CODES.get(frame.error_code, frame.error_code)}"
            break
        if type(frame).__name__ == "RstStreamFrame" and frame.stream_id == 1:
            answer = f"RST {ERROR_CODES.get(frame.error_code, frame.error_code)}"
            break
    assert answer == expected, f"{section}: {answer}"
    raw.close()
    assert worker.process.poll() is None


def test_unknown_frames_and_pings_are_handled(start_worker):
    worker = start_worker("h2_app:wsgi")
    raw = RawH2(worker.port)
    raw.send(b"\x00\x00\x03\xfa\x00\x00\x00\x00\x00abc",  # an unknown type: ignored (§4.1)
             PingFrame(0, opaque_data=b"hornbeam"),
             HeadersFrame(1, raw.header_block("/"), flags=["END_HEADERS", "END_STREAM"]))
    seen = list(raw.frames(timeout=2))
    assert any(type(f).__name__ == "PingFrame" and "ACK" in f.flags and f.opaque_data == b"hornbeam"
               for f in seen)
    assert any(isinstance(f, DataFrame) and f.stream_id == 1 for f in seen)


# --- how connections start and end ------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    directory = tmp_path_factory.mktemp("h2-pki")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "key.pem", "-out",
                    "cert.pem", "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost"], cwd=directory, check=True, capture_output=True)
    return directory


def tls_port(arbiter):
    return int(re.search(r"listening on 127\.0\.0\.1:(\d+) \(TLS\)", arbiter.log).group(1))


def test_h2_over_tls_by_alpn(start_arbiter, certificate):
    arbiter = start_arbiter("h2_app:wsgi", workers=1, settings={
        "bind": ["https://127.0.0.1:0"],
        "tls": {"certfile": str(certificate / "cert.pem"), "keyfile": str(certificate / "key.pem")}})
    port = tls_port(arbiter)
    out = curl("--http2", "--cacert", str(certificate / "cert.pem"), "-w", "\n%{http_version}",
               f"https://localhost:{port}/environ")
    body, version = out.rsplit("\n", 1)
    assert version == "2" and json.loads(body)["wsgi.url_scheme"] == "https"
    context = ssl.create_default_context(cafile=str(certificate / "cert.pem"))
    context.set_alpn_protocols(["h2", "http/1.1"])
    client = H2Client(port, tls=context)
    upload = os.urandom(1 << 20)
    stream = client.start("/upload", method="POST", body=b"", end=False)
    rest = upload
    while rest:
        rest = client.send_body(stream, rest)
        if rest:
            client.pump(lambda: client.conn.local_flow_control_window(stream) > 0)
    assert client.wait(stream).body.decode().startswith(f"{len(upload)} ")
    client.close()
    # A client offering only HTTP/1.1 gets it.
    out = curl("--http1.1", "--cacert", str(certificate / "cert.pem"), "-w", "\n%{http_version}",
               f"https://localhost:{port}/environ")
    assert out.rsplit("\n", 1)[1] == "1.1"
    # h2load, the load generator, over TLS.
    result = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "10", f"https://localhost:{port}/"],
                            capture_output=True, text=True, timeout=60)
    assert "2000 succeeded" in result.stdout and "Application protocol: h2" in result.stdout, result.stdout


def test_http2_enabled_false_serves_http11_only(start_arbiter, certificate):
    arbiter = start_arbiter("h2_app:wsgi", workers=1, settings={
        "bind": ["https://127.0.0.1:0", "127.0.0.1:0"], "http2": {"enabled": False},
        "tls": {"certfile": str(certificate / "cert.pem"), "keyfile": str(certificate / "key.pem")}})
    port = tls_port(arbiter)
    out = curl("--http2", "--cacert", str(certificate / "cert.pem"), "-w", "\n%{http_version}",
               f"https://localhost:{port}/environ")
    assert out.rsplit("\n", 1)[1] == "1.1"
    plain = int(re.search(r"listening on 127\.0\.0\.1:(\d+)\n", arbiter.log).group(1))
    with socket.create_connection(("127.0.0.1", plain), timeout=10) as sock:
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 4")  # not HTTP/1.1 either: refused


def test_h2c_upgrade_only_when_enabled(start_worker):
    worker = start_worker("h2_app:wsgi")
    assert curl("--http2", "-w", "\n%{http_version}", f"{worker.url}/environ").rsplit("\n", 1)[1] == "1.1"
    worker = start_worker("h2_app:wsgi", "--http2-h2c-upgrade")
    out = curl("--http2", "-w", "\n%{http_version}", f"{worker.url}/environ?up=1")
    body, version = out.rsplit("\n", 1)
    assert version == "2" and json.loads(body)["SERVER_PROTOCOL"] == "HTTP/2"
    assert json.loads(body)["QUERY_STRING"] == "up=1"


def test_sigterm_sends_goaway_and_finishes_the_streams_in_flight(start_worker, tmp_path):
    """GOAWAY names the last stream the server takes; that stream is still answered (Python's
    h2 closes at any GOAWAY, hence raw frames)."""
    worker = start_worker("h2_app:wsgi")
    started = tmp_path / "started"
    raw = RawH2(worker.port)
    raw.send(HeadersFrame(1, raw.header_block(f"/sleep?s=0.5&started={started}"),
                          flags=["END_HEADERS", "END_STREAM"]))
    wait_for_file(started)
    worker.process.send_signal(signal.SIGTERM)
    seen = list(raw.frames(timeout=10))
    goaway = next(f for f in seen if type(f).__name__ == "GoAwayFrame")
    assert goaway.error_code == 0 and goaway.last_stream_id == 1
    data = [f for f in seen if isinstance(f, DataFrame) and f.stream_id == 1]
    assert b"".join(f.data for f in data) == b"slept" and "END_STREAM" in data[-1].flags
    assert seen.index(goaway) < seen.index(data[-1])
    assert worker.process.wait(10) == 0


def test_idle_connection_is_closed_with_goaway_after_keepalive(start_worker):
    worker = start_worker("h2_app:wsgi", "--keepalive", "300ms")
    client = H2Client(worker.port)
    assert client.get("/environ")[0] == 200
    client.pump(lambda: client.goaway is not None, timeout=5)
    assert client.goaway.error_code == 0


def test_max_header_list_size_is_announced_and_held(start_worker):
    worker = start_worker("h2_app:wsgi", "--http2-max-header-list-size", "4KiB")
    client = H2Client(worker.port)
    client.pump(lambda: client.server_settings)
    assert client.server_settings[6] == 4096  # SETTINGS_MAX_HEADER_LIST_SIZE
    assert client.get("/environ", headers=[("x-small", "s" * 1000)])[0] == 200
    client.close()
    raw = RawH2(worker.port)
    raw.send(HeadersFrame(1, raw.header_block("/", [("x-large", "l" * 5000)]),
                          flags=["END_HEADERS", "END_STREAM"]))
    assert raw.goaway().error_code == ENHANCE_YOUR_CALM


def test_proxy_protocol_before_the_tls_handshake(start_arbiter, certificate):
    """On an https:// bind the PROXY header comes first, in the clear; the client it names is
    the one HTTP/1.1 and HTTP/2 requests see."""
    arbiter = start_arbiter("h2_app:wsgi", workers=1, settings={
        "bind": ["https://127.0.0.1:0"], "proxy_protocol": "v1",
        "tls": {"certfile": str(certificate / "cert.pem"), "keyfile": str(certificate / "key.pem")}})
    port = tls_port(arbiter)
    header = b"PROXY TCP4 203.0.113.5 192.0.2.1 51234 443\r\n"
    context = ssl.create_default_context(cafile=str(certificate / "cert.pem"))
    context.set_alpn_protocols(["http/1.1"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(header)
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            response = b""
            while chunk := tls.recv(65536):
                response += chunk
    environ = json.loads(response.partition(b"\r\n\r\n")[2])
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("203.0.113.5", "51234")
    assert environ["wsgi.url_scheme"] == "https"
    h2 = ssl.create_default_context(cafile=str(certificate / "cert.pem"))
    h2.set_alpn_protocols(["h2"])
    client = H2Client(port, tls=h2, before=header)
    status, body = client.get("/environ")
    assert status == 200 and json.loads(body)["REMOTE_ADDR"] == "203.0.113.5"
    client.close()
    # 127.0.0.1 is in proxy_allow_ips (the default): without a header it is refused.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            context.wrap_socket(raw, server_hostname="localhost")
    arbiter.wait_for_log("no PROXY protocol header, and the peer is in proxy_allow_ips")


def test_a_systemd_socket_serves_tls_when_bind_names_its_address_https(start_arbiter, certificate):
    """Socket activation: systemd owns the sockets; an `https://` bind entry with the same
    address says which of them serve TLS (and h2)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    arbiter = start_arbiter("h2_app:wsgi", workers=1, settings={
        "bind": [f"https://127.0.0.1:{port}"],
        "tls": {"certfile": str(certificate / "cert.pem"), "keyfile": str(certificate / "key.pem")}},
        **systemd_activation(listener))
    listener.close()
    assert "socket activation: serving on the 1 socket(s) systemd passed" in arbiter.log
    assert f"listening on 127.0.0.1:{port} (TLS)" in arbiter.log
    out = curl("--http2", "--cacert", str(certificate / "cert.pem"), "-w", "\n%{http_version}",
               f"https://localhost:{port}/environ")
    body, version = out.rsplit("\n", 1)
    assert version == "2" and json.loads(body)["wsgi.url_scheme"] == "https"
