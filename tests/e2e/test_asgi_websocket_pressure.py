"""WebSocket messages up to websocket.max_message_size and backpressure in both directions,
against hornbeam and, with the same app and client, Uvicorn. Whatever ends a connection, the
app gets websocket.disconnect with the right code."""

import asyncio
import base64
import os
import re
import socket
import time

import pytest
import websockets

from peers import wait_for_file

MAX_MESSAGE_SIZE = 16 << 20  # websocket.max_message_size's default, as Uvicorn's ws_max_size


def run(coroutine, timeout=60):
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def connect(server, path, **options):
    return websockets.connect(f"ws://127.0.0.1:{server.port}{path}", max_size=None, **options)


def disconnect_seen(marker, code, reason=None):
    line = wait_for_file(marker, "disconnect").splitlines()[0]
    seen_code, seen_reason = line.split(" ", 2)[1:]
    assert int(seen_code) == code, line
    if reason is not None:
        assert seen_reason == reason, line


@pytest.mark.parametrize("size", [1 << 20, 8 << 20, MAX_MESSAGE_SIZE], ids=["1MiB", "8MiB", "max"])
@pytest.mark.parametrize("kind", ["text", "binary"])
@pytest.mark.parametrize("fragmented", [False, True], ids=["whole", "fragmented"])
def test_messages_up_to_the_limit_echo_in_both_directions(serve, tmp_path, request, size, kind, fragmented):
    if serve.peer == "uvicorn" and size == MAX_MESSAGE_SIZE:
        request.node.add_marker(pytest.mark.xfail(
            reason="Debian's Uvicorn (0.17.6, websockets 10.4) at times refuses a message of exactly "
                   "ws_max_size with 1009", strict=False))
    server = serve("ws_pressure:app")
    marker = tmp_path / "marker"
    payload = os.urandom(size // 2).hex() if kind == "text" else os.urandom(size)

    async def session():
        async with connect(server, f"/echo?marker={marker}") as ws:
            if fragmented:  # websockets sends an iterable as one message in fragments
                step = 1 << 20
                await ws.send(payload[i:i + step] for i in range(0, size, step))
            else:
                await ws.send(payload)
            assert await ws.recv() == payload
            await ws.close(code=4000, reason="finished")
            assert ws.close_code == 4000  # the server's close frame echoes the client's code

    run(session())
    # The client's close reason reaches the app (Uvicorn passes it since 0.30.2; Debian's is older).
    disconnect_seen(marker, 4000, "finished" if serve.peer == "hornbeam" else None)


def test_a_message_over_the_limit_gets_1009_and_one_log_line(serve, tmp_path):
    server = serve("ws_pressure:app")
    marker = tmp_path / "marker"

    async def session():
        async with connect(server, f"/echo?marker={marker}") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.send(b"x" * (MAX_MESSAGE_SIZE + 1))  # the server may close before its end
                await ws.recv()
            assert closed.value.rcvd.code == 1009

    run(session())
    # The app learns why; Debian's Uvicorn (0.17.6) tells its app 1006 instead.
    disconnect_seen(marker, 1009 if serve.peer == "hornbeam" else 1006)
    if serve.peer == "hornbeam":
        server.wait_for_log("a message larger than websocket.max_message_size (16777216 bytes)")
        assert server.log.count("websocket.max_message_size") == 1


def test_a_burst_waiting_for_a_sleeping_app_is_held_not_dropped(serve, tmp_path):
    # 17 x 64 KiB is more than hornbeam's 1 MiB high-water mark: reading pauses, then resumes.
    server = serve("ws_pressure:app")
    marker = tmp_path / "marker"

    async def session():
        async with connect(server, f"/sleepy?sleep=1&marker={marker}") as ws:
            for number in range(17):
                await ws.send(bytes([number]) * 65536)
            await ws.send("done")
            assert await ws.recv() == f"17 {17 * 65536}"
            await ws.close(code=4001, reason="burst done")

    run(session())
    disconnect_seen(marker, 4001, "burst done" if serve.peer == "hornbeam" else None)


def test_a_client_sending_without_reading_while_the_app_sends(serve, tmp_path):
    server = serve("ws_pressure:app")
    marker = tmp_path / "marker"
    count, size = 64, 65536  # 4 MiB each way, well past every buffer on the path

    async def session():
        async with connect(server, f"/flood?count={count}&size={size}&marker={marker}") as ws:
            for number in range(count):
                await ws.send(bytes([number]) * size)
            await ws.send("done")
            for number in range(count):
                assert await ws.recv() == bytes([number % 256]) * size
            assert await ws.recv() == f"{count} {count * size}"

    run(session())
    disconnect_seen(marker, 1000)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


@pytest.mark.skipif(bool(os.environ.get("HB_TEST_SANITIZE")), reason="memory is not measured under sanitizers")
def test_500_connections_each_holding_the_high_water_mark(serve, tmp_path):
    server = serve("ws_pressure:app")
    marker = tmp_path / "marker"
    connections = 500
    before = rss_kib(server.process.pid)

    async def session():
        clients = [await connect(server, f"/sleepy?sleep=6&marker={marker}") for _ in range(connections)]
        burst = b"x" * 65536
        # 17 x 64 KiB each: past hornbeam's 1 MiB mark, so reading pauses on every connection.
        await asyncio.gather(*(asyncio.gather(*(ws.send(burst) for _ in range(17))) for ws in clients))
        await asyncio.sleep(1)
        held = rss_kib(server.process.pid)
        await asyncio.gather(*(ws.close() for ws in clients))
        return held

    held = run(session(), timeout=120)
    grown_mib = (held - before) / 1024
    print(f"\n{serve.peer}: RSS {before / 1024:.0f} MiB idle, {held / 1024:.0f} MiB with {connections} "
          f"connections holding 17 x 64 KiB each (+{grown_mib:.0f} MiB, "
          f"{grown_mib * 1024 / connections:.0f} KiB per connection)")
    assert grown_mib < connections * 2.5, "memory per connection is bounded by the high-water mark"
    # The apps wake, read what was held, and see the clients' close.
    wait_for_file(marker, "disconnect", count=connections, timeout=60)


def raw_websocket(port, path):
    """A WebSocket client on a bare socket: it reads only the handshake's answer, nothing after."""
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    sock.settimeout(10)
    assert sock.recv(12) == b"HTTP/1.1 101"
    return sock


def masked_text_frame(text):
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_a_peer_that_sends_but_never_reads_is_dropped_after_send_timeout(start_worker, tmp_path):
    # It is never silent (websocket.idle_timeout), and the app's sends wait on it: they waited
    # for ever before limits.send_timeout covered WebSocket frames too.
    worker = start_worker("ws_pressure:app", "-k", "asgi", "--limits-send-timeout", "1s")
    marker = tmp_path / "marker"
    sock = raw_websocket(worker.port, f"/flood?count=100000&size=65536&marker={marker}")
    deadline = time.monotonic() + 20
    try:
        while "limits.send_timeout" not in worker.log and time.monotonic() < deadline:
            sock.sendall(masked_text_frame("still here"))
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        pass  # dropped
    worker.wait_for_log("the peer took none of a frame for limits.send_timeout: dropped")
    disconnect_seen(marker, 1006)
    sock.close()
