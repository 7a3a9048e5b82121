"""ASGI WebSocket (spec 2.4) against the real worker, with Debian's websockets client and, where
the client library hides what is checked (pings, a peer that goes silent), a raw socket."""

import asyncio
import base64
import os
import re
import signal
import socket
import struct
import time
import zlib

import pytest
import websockets

from test_asgi_http import wait_for_file


@pytest.fixture
def ws_worker(start_worker):
    return start_worker("asgi_app:websocket_app", "-k", "asgi")


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 20))


def handshake(port, path, extra=b""):
    """A raw client socket after a successful handshake, and the response head."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n" + extra + b"\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    return sock, head.decode("latin-1")


def read_frame(sock):
    """(opcode, payload) of the next frame from the server (servers never mask)."""
    first, second = sock.recv(1)[0], sock.recv(1)[0]
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", recv_exactly(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", recv_exactly(sock, 8))[0]
    return first & 0x0F, recv_exactly(sock, length)


def recv_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def send_frame(sock, opcode, payload):
    mask = os.urandom(4)
    header = bytes([0x80 | opcode])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    elif len(payload) < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def test_text_and_binary_messages_echo_with_the_chosen_subprotocol_and_headers(ws_worker):
    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{ws_worker.port}/echo",
                                      subprotocols=["v1", "v2"]) as ws:
            assert ws.subprotocol == "v2"
            assert ws.response_headers["x-accepted-by"] == "asgi_app"
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.send(b"\x00\x01binary")
            assert await ws.recv() == b"\x00\x01binary"

    run(session())


def test_close_before_accept_is_a_403(ws_worker):
    async def session():
        with pytest.raises(websockets.InvalidStatusCode) as refused:
            async with websockets.connect(f"ws://127.0.0.1:{ws_worker.port}/deny"):
                pass
        assert refused.value.status_code == 403

    run(session())


@pytest.mark.parametrize("fields, status", [
    (b"Sec-WebSocket-Version: 13\r\n", 400),  # no key
    (b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n", 400),
    (b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", 400),  # no version
    (b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n", 426),
])
def test_a_handshake_the_server_cannot_complete_is_refused_before_the_app_sees_it(
        ws_worker, tmp_path, fields, status):
    """RFC 6455 §4.2.1: a key that is not 16 bytes in base64, or a version other than 13 (426
    names 13). The app never gets a websocket.connect it would accept in vain."""
    marker = tmp_path / "marker"
    with socket.create_connection(("127.0.0.1", ws_worker.port), timeout=10) as sock:
        sock.sendall(f"GET /echo?marker={marker} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\n".encode() + fields + b"\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
    if status == 426:
        assert b"\r\nSec-WebSocket-Version: 13\r\n" in answer
    assert not marker.exists()
    assert run(echo_once(ws_worker.port)) == "still serving"


async def echo_once(port):
    async with websockets.connect(f"ws://127.0.0.1:{port}/echo") as ws:
        await ws.send("still serving")
        return await ws.recv()


def test_the_http_response_extension_refuses_with_the_apps_response(ws_worker):
    sock = socket.create_connection(("127.0.0.1", ws_worker.port), timeout=10)
    sock.sendall(b"GET /teapot HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    assert received.startswith(b"HTTP/1.1 418 ")
    assert b"\r\n\r\n13\r\nno websockets here\n\r\n0\r\n\r\n" in received


def test_an_exception_before_accept_is_a_500(ws_worker):
    async def session():
        with pytest.raises(websockets.InvalidStatusCode) as refused:
            async with websockets.connect(f"ws://127.0.0.1:{ws_worker.port}/raise"):
                pass
        assert refused.value.status_code == 500

    run(session())
    ws_worker.wait_for_log("ValueError: raised during the handshake")


def test_an_exception_after_accept_closes_with_1011(ws_worker):
    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{ws_worker.port}/raise-after-accept") as ws:
            await ws.send("trigger")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.code == 1011

    run(session())
    ws_worker.wait_for_log("ValueError: raised after the handshake")


def test_sending_after_the_client_left_raises_oserror(ws_worker, tmp_path):
    marker = tmp_path / "marker"

    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{ws_worker.port}/send-after-close?marker={marker}") as ws:
            await ws.close()

    run(session())
    assert wait_for_file(marker, "then send").strip() == "websocket.disconnect then send: OSError"


def test_the_apps_close_reaches_the_client_with_its_code(ws_worker, tmp_path):
    marker = tmp_path / "marker"

    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{ws_worker.port}/close?marker={marker}") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.code == 4001 and closed.value.reason == "app says bye"

    run(session())
    assert wait_for_file(marker, "disconnect").strip() == "websocket.disconnect 4001"


def test_a_client_close_reaches_the_app_with_the_clients_code(ws_worker, tmp_path):
    marker = tmp_path / "marker"

    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{ws_worker.port}/echo?marker={marker}") as ws:
            await ws.close(code=4002, reason="client says bye")

    run(session())
    assert wait_for_file(marker, "disconnect").strip() == "websocket.disconnect 4002"
    assert "websocket /echo" not in ws_worker.log  # a closing handshake is no event for the log


def test_a_dropped_connection_reaches_the_app_as_1006(ws_worker, tmp_path):
    marker = tmp_path / "marker"
    sock, head = handshake(ws_worker.port, f"/echo?marker={marker}")
    assert head.startswith("HTTP/1.1 101")
    sock.close()
    assert wait_for_file(marker, "disconnect").strip() == "websocket.disconnect 1006"
    ws_worker.wait_for_log("websocket /echo?marker=")
    assert re.search(r"\[info\] websocket /echo\?marker=\S+ from 127\.0\.0\.1:\d+: the connection dropped "
                     r"without a close frame", ws_worker.log), ws_worker.log


def test_the_app_pushes_without_the_client_sending(ws_worker, tmp_path):
    marker = tmp_path / "marker"

    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{ws_worker.port}/push?marker={marker}") as ws:
            started = time.monotonic()
            received = [await ws.recv() for _ in range(4)]
            assert received == ["push 0", "push 1", "push 2", "push 3"]
            assert time.monotonic() - started < 2

    run(session())
    assert wait_for_file(marker, "disconnect").startswith("websocket.disconnect")


def test_the_server_pings_and_closes_a_peer_that_stops_answering(start_worker, tmp_path):
    worker = start_worker("asgi_app:websocket_app", "-k", "asgi", "--websocket-ping-interval", "200ms",
                          "--websocket-idle-timeout", "1s")
    marker = tmp_path / "marker"
    sock, _ = handshake(worker.port, f"/echo?marker={marker}")
    opcode, _ = read_frame(sock)
    assert opcode == 0x9, "expected a ping"
    started = time.monotonic()
    # Never answer: the server gives up after the idle timeout.
    wait_for_file(marker, "disconnect", timeout=5)
    assert time.monotonic() - started < 3
    sock.close()
    worker.wait_for_log("no frame from the peer for websocket.idle_timeout: dropped")


def test_a_peer_answering_pings_stays_connected(start_worker):
    worker = start_worker("asgi_app:websocket_app", "-k", "asgi", "--websocket-ping-interval", "200ms",
                          "--websocket-idle-timeout", "1s")

    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{worker.port}/echo") as ws:
            await asyncio.sleep(2)  # the client library answers the server's pings
            await ws.send("still here")
            assert await ws.recv() == "still here"

    run(session())


def test_a_message_over_max_message_size_closes_with_1009(start_worker):
    worker = start_worker("asgi_app:websocket_app", "-k", "asgi", "--websocket-max-message-size", "1KiB")

    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{worker.port}/echo") as ws:
            await ws.send("x" * 100)
            assert await ws.recv() == "x" * 100
            await ws.send("x" * 2048)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.code == 1009

    run(session())


@pytest.mark.parametrize("compress", [False, True])
def test_permessage_deflate_is_negotiated_only_when_enabled(start_worker, compress):
    worker = start_worker("asgi_app:websocket_app", "-k", "asgi",
                          "--websocket-compress" if compress else "--no-websocket-compress")

    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{worker.port}/echo", compression="deflate") as ws:
            negotiated = ws.response_headers.get("sec-websocket-extensions", "")
            assert ("permessage-deflate" in negotiated) == compress
            await ws.send("compressible " * 1000)
            assert await ws.recv() == "compressible " * 1000

    run(session())


def test_sigterm_closes_open_websockets_with_1001(ws_worker):
    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{ws_worker.port}/echo") as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
            ws_worker.process.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.code == 1001

    run(session())
    assert ws_worker.stop() == 0


def test_many_clients_share_one_loop(ws_worker):
    async def client(number):
        async with websockets.connect(f"ws://127.0.0.1:{ws_worker.port}/echo") as ws:
            for round_ in range(5):
                await ws.send(f"{number}-{round_}")
                assert await ws.recv() == f"{number}-{round_}"

    async def all_clients():
        await asyncio.gather(*(client(number) for number in range(100)))

    run(all_clients())


def test_a_compressed_frame_claiming_exabytes_is_dropped_as_too_big(start_worker, tmp_path):
    # Beast 1.81 lets a compressed frame whose declared length is near 2^64 through its size
    # check (an addition overflows); the worker's bounded buffer must stop it (found by fuzzing).
    worker = start_worker("asgi_app:websocket_app", "-k", "asgi", "--websocket-compress")
    marker = tmp_path / "marker"
    sock, head = handshake(worker.port, f"/echo?marker={marker}",
                           b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    assert head.startswith("HTTP/1.1 101") and "permessage-deflate" in head
    # FIN, RSV1 (compressed), binary, 2^64-1 bytes declared; then a valid start of a deflate
    # stream, so that the server inflates it and asks for room for the rest.
    compressor = zlib.compressobj(wbits=-15)
    start = compressor.compress(os.urandom(2000)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    mask = b"\x01\x02\x03\x04"
    sock.sendall(b"\xc2\xff" + b"\xff" * 8 + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(start)))
    sock.settimeout(10)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    sock.close()
    assert wait_for_file(marker, "disconnect").strip() == "websocket.disconnect 1009"
    worker.wait_for_log("a frame declaring more than websocket.max_message_size: dropped (1009)")
