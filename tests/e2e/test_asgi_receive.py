"""ASGI receive() as apps use it: cancelled (a timeout, a cancelled task, Starlette's
is_disconnected()), and awaited by several tasks at once. Each test runs against hornbeam and,
with the same app and client, against Uvicorn: hornbeam must behave as Uvicorn does."""

import asyncio
import hashlib
import http.client
import json
import os
import random
import socket
import time

import pytest
import requests
import websockets

from peers import wait_for_file


def test_a_receive_that_timed_out_leaves_the_next_receive_working(serve):
    server = serve("receive_patterns:app")
    response = requests.post(server.url + "/timeouts", data=b"hello", timeout=10)
    assert (response.status_code, response.text) == (200, "5 bytes, 2 timeouts")
    assert "Traceback" not in server.log


# A Content-Length body's receive() lends a bytes object for the socket's next read: a
# receive() cancelled meanwhile leaves it to the next one, with what was read into it.
@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_a_streamed_upload_survives_random_cancellations_of_receive(serve, framing):
    server = serve("receive_patterns:app")
    rng = random.Random(7)
    pieces = [os.urandom(rng.randrange(1, 96 * 1024)) for _ in range(160)]  # about 7.5 MiB
    expected = b"".join(pieces)

    # With pauses, so that receive() calls have to wait and get cancelled waiting. 20 ms: the
    # app must catch up within a pause even in an ASan build (3 ms pauses gave it only 0-7
    # cancellations there, against 40-55 in a normal build; 20 ms, 32-66 and 52-71).
    def paced():
        for number, piece in enumerate(pieces):
            if number % 8 == 0:
                time.sleep(0.02)
            yield piece

    def post(seed):
        if framing == "chunked":  # requests sends a generator chunked
            return requests.post(f"{server.url}/upload?seed={seed}", data=paced(), timeout=60).json()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        connection.putrequest("POST", f"/upload?seed={seed}")
        connection.putheader("Content-Length", str(len(expected)))
        connection.endheaders()
        for piece in paced():
            connection.send(piece)
        answer = json.loads(connection.getresponse().read())
        connection.close()
        return answer

    for seed in (1, 2):
        answer = post(seed)
        assert answer["length"] == len(expected)
        assert answer["sha256"] == hashlib.sha256(expected).hexdigest()
        assert answer["cancelled"] >= 5  # the cancellations did happen
    assert "Traceback" not in server.log


def test_an_app_that_answers_while_a_cancelled_receive_waited_leaves_the_server_sound(serve):
    server = serve("receive_patterns:app")
    for _ in range(3):
        with server.connect() as connection:
            connection.sendall(b"POST /abandons-a-receive HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 400000\r\n\r\n" + b"a" * 1000)
            status, _, body = connection.read_response()
            assert (status, body) == (200, b"1000 then gave up")
            try:  # the rest comes after the answer, then the client leaves
                connection.sendall(b"b" * 100_000)
            except OSError:
                pass  # the server may have closed already
        upload = os.urandom(300_000)
        assert requests.post(server.url + "/timeouts", data=upload, timeout=10).text == \
            "300000 bytes, 2 timeouts"
    assert "Traceback" not in server.log


def test_a_message_given_to_a_receive_cancelled_before_it_returned_goes_to_the_next(serve):
    server = serve("receive_patterns:app")
    with server.connect() as connection:
        connection.sendall(b"POST /cancelled-after-delivery HTTP/1.1\r\nHost: x\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        time.sleep(0.3)  # the app's second receive() waits for this:
        connection.sendall(b"6\r\nsecond\r\n0\r\n\r\n")
        status, _, body = connection.read_response()
    assert status == 200
    assert json.loads(body) == {"length": 11, "put_back": True}


def test_every_waiting_and_later_receive_gets_the_disconnect(serve, tmp_path):
    server = serve("receive_patterns:app")
    marker = tmp_path / "marker"
    with server.connect() as connection:
        connection.sendall(f"GET /two-waiters?marker={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        connection.sock.settimeout(10)
        assert b"waiting" in connection.sock.recv(4096)
        time.sleep(0.2)  # both tasks are waiting now
    assert wait_for_file(marker, "\n").strip() == "http.disconnect http.disconnect http.disconnect"


def test_starlette_server_sent_events_checking_is_disconnected_stream_on(serve, tmp_path):
    server = serve("starlette_patterns:app")
    marker = tmp_path / "marker"
    with requests.get(f"{server.url}/events?marker={marker}", stream=True, timeout=10) as response:
        assert response.status_code == 200
        events = []
        for line in response.iter_lines():
            if line.startswith(b"data: "):
                events.append(line)
            if len(events) == 10:
                break
    assert events == [f"data: event {number}".encode() for number in range(10)]
    # The client left: the stream stops.
    ended = wait_for_file(marker, "stream ended after")
    assert int(ended.split()[3]) >= 10
    assert "Traceback" not in server.log


def test_starlette_websocket_receive_with_a_timeout(serve):
    server = serve("starlette_patterns:app")

    async def session():
        async with websockets.connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            await asyncio.sleep(0.5)  # two receive_text() calls time out meanwhile
            await ws.send("hello")
            answer = await ws.recv()
            assert answer.startswith("hello after ") and int(answer.split()[2]) >= 2, answer
            await ws.send("bye")
            assert (await ws.recv()).startswith("bye after")

    asyncio.run(asyncio.wait_for(session(), 20))
    assert "Traceback" not in server.log
