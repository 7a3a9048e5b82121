"""HTTP/2 clients for the tests: a well-behaved one on Python's `h2` (Debian's python3-h2),
and a raw frame writer (hyperframe, hpack) for what a well-behaved client never sends."""

import socket
import time

import h2.config
import h2.connection
import h2.events
from hpack import Encoder
from hyperframe.frame import Frame, GoAwayFrame, SettingsFrame

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# RFC 9113 §7
ERROR_CODES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
               5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL",
               9: "COMPRESSION_ERROR", 11: "ENHANCE_YOUR_CALM"}


class Response:
    def __init__(self):
        self.headers = {}
        self.body = bytearray()
        self.trailers = {}
        self.ended = False
        self.reset = None  # the RST_STREAM error code


class H2Client:
    """One HTTP/2 connection; `tls` is an ssl.SSLContext whose ALPN offers h2."""

    def __init__(self, port, tls=None, settings=None, auto_ack=True, before=b""):
        """`before`: bytes sent ahead of everything, TLS included (a PROXY protocol header)."""
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(before)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="localhost")
            assert sock.selected_alpn_protocol() == "h2"
        self.sock = sock
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.auto_ack = auto_ack
        self.responses = {}
        self.goaway = None  # the ConnectionTerminated event
        self.server_settings = {}
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def start(self, path, method="GET", headers=(), body=None, end=True, authority="localhost"):
        stream = self.conn.get_next_available_stream_id()
        self.responses[stream] = Response()
        fields = [(":method", method), (":path", path), (":scheme", "http"),
                  (":authority", authority), *headers]
        self.conn.send_headers(stream, fields, end_stream=body is None and end)
        if body is not None:
            self.send_body(stream, body, end)
        self.flush()
        return stream

    def send_body(self, stream, body, end=True):
        """Sends as much of `body` as the server's windows allow; returns what is left."""
        while body:
            room = min(self.conn.local_flow_control_window(stream), self.conn.max_outbound_frame_size)
            if room <= 0:
                self.flush()
                return body
            self.conn.send_data(stream, body[:room])
            body = body[room:]
        if end:
            self.conn.end_stream(stream)
        self.flush()
        return body

    def pump(self, until, timeout=15):
        """Reads and handles frames until `until()` or the connection ends."""
        deadline = time.monotonic() + timeout
        while not until():
            if self.closed:
                return
            remaining = deadline - time.monotonic()
            assert remaining > 0, "timed out waiting for the server"
            self.sock.settimeout(min(remaining, 1))
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                self.closed = True
                return
            for event in self.conn.receive_data(data):
                self.handle(event)
            self.flush()

    def handle(self, event):
        if isinstance(event, h2.events.ResponseReceived):
            self.responses[event.stream_id].headers = dict(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            self.responses[event.stream_id].body += event.data
            if self.auto_ack:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.TrailersReceived):
            self.responses[event.stream_id].trailers = dict(event.headers)
        elif isinstance(event, h2.events.StreamEnded):
            self.responses[event.stream_id].ended = True
        elif isinstance(event, h2.events.StreamReset):
            if event.stream_id in self.responses:
                self.responses[event.stream_id].reset = event.error_code
                self.responses[event.stream_id].ended = True
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self.server_settings.update({key: value.new_value
                                         for key, value in event.changed_settings.items()})

    def wait(self, stream, timeout=15):
        self.pump(lambda: self.responses[stream].ended, timeout)
        return self.responses[stream]

    def get(self, path, **kwargs):
        response = self.wait(self.start(path, **kwargs))
        return int(response.headers[":status"]), response.body


class RawH2:
    """A connection that writes frames as given, and reads what comes back."""

    def __init__(self, port, settings=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.encoder = Encoder()
        self.buffer = b""
        self.closed = False
        frame = SettingsFrame(0)
        frame.settings = settings or {}
        self.sock.sendall(PREFACE + frame.serialize())

    def send(self, *frames):
        try:
            self.sock.sendall(b"".join(f if isinstance(f, bytes) else f.serialize() for f in frames))
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def header_block(self, path="/", extra=()):
        return self.encoder.encode([(":method", "GET"), (":path", path), (":scheme", "http"),
                                    (":authority", "localhost"), *extra])

    def frames(self, timeout=10):
        """Yields the server's frames until it closes or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            while len(self.buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                if len(self.buffer) < 9 + length:
                    break
                frame.parse_body(memoryview(self.buffer[9:9 + length]))
                self.buffer = self.buffer[9 + length:]
                yield frame
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                return
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                return
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                return
            self.buffer += data

    def goaway(self, timeout=10):
        """The server's GOAWAY (None if it sent none before closing or `timeout`)."""
        for frame in self.frames(timeout):
            if isinstance(frame, GoAwayFrame):
                return frame
        return None

    def close(self):
        self.sock.close()
