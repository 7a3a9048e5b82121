"""Writes each fuzz target's seed corpus into OUT/<target>/: the shared HTTP request corpus
(../shared/corpus/http-requests), the examples' configurations, and the project's own cases
below. Generated rather than committed: the shared corpus stays the one source.

    /usr/bin/python3 fuzz/make_seeds.py OUT"""

import base64
import hashlib
import json
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HB_TEST_CORPUS", ROOT.parent / "shared" / "corpus" / "http-requests"))

OWN_HEADS = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /upload?x=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"GET http://example.com:8080/a%20b?q#f HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"OPTIONS * HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\n\n",
]

OWN_CHUNKED = [
    b"5\r\nhello\r\n0\r\n\r\n",
    b"5;name=value;q=\"a \\\"b\\\"\"\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n",
    b"000A\r\n0123456789\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    b"0x5\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhelloEXTRA\r\n0\r\n\r\n",
    b"0\r\nContent-Length: 5\r\n\r\n",
    b"5;a=\"unterminated\r\nhello\r\n0\r\n\r\n",
]


def ws_frame(opcode, payload, fin=True, mask=b"\x01\x02\x03\x04", rsv1=False):
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    if len(payload) < 126:
        head += bytes([0x80 | len(payload)])
    elif len(payload) < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


OWN_WEBSOCKET = [  # first byte: 1 = permessage-deflate negotiated
    b"\x00" + ws_frame(1, b"hello") + ws_frame(2, b"\x00\xff" * 10),
    b"\x00" + ws_frame(1, b"frag", fin=False) + ws_frame(9, b"ping") + ws_frame(0, b"ment"),
    b"\x00" + ws_frame(8, struct.pack("!H", 1000) + b"bye"),
    b"\x00" + ws_frame(1, b"\xc3\x28"),  # not UTF-8
    b"\x00" + ws_frame(2, b"x" * 70000),  # over the fuzzer's read_message_max
    b"\x01" + ws_frame(1, bytes.fromhex("ca48cdc9c90700"), rsv1=True),  # "hello", deflated
]

OWN_PROXY = [  # first byte: 0 = v1, 1 = v2
    b"\x00PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n\r\n",
    b"\x00PROXY TCP6 2001:db8::1 ::1 1 2\r\n",
    b"\x00PROXY UNKNOWN\r\n",
    b"\x01\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x01\xbb",
    b"\x01\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00",
]

OWN_STATE = [bytes(range(256)), b"\x00\x01\x00abc\x04\x01\x00" * 20, b"\x03\x05\x00\x07" * 50]


def write(directory, content):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(content).hexdigest()).write_bytes(content)


def main(out):
    out = Path(out)
    cases = [json.loads(path.read_text()) for path in sorted(SHARED.glob("*/*.json"))]
    if not cases:
        sys.exit(f"make_seeds: no request corpus at {SHARED}")
    for case in cases:
        raw = base64.b64decode(case["raw_base64"])
        write(out / "request_head_fuzzer", raw)
        head, separator, body = raw.partition(b"\r\n\r\n")
        if separator and b"chunked" in head.lower():
            write(out / "chunked_body_fuzzer", b"\x00" + body)
    for head in OWN_HEADS:
        write(out / "request_head_fuzzer", head)
    for body in OWN_CHUNKED:
        write(out / "chunked_body_fuzzer", b"\x00" + body)
        write(out / "chunked_body_fuzzer", b"\x08" + bytes(range(1, 250, 31)) + body)
    for frames in OWN_WEBSOCKET:
        write(out / "websocket_frames_fuzzer", frames)
    for config in sorted(ROOT.glob("examples/*/*.yaml")):
        write(out / "config_fuzzer", config.read_bytes() + b"\0HORNBEAM_WORKERS=3\0--timeout\x005s")
    for header in OWN_PROXY:
        write(out / "proxy_header_fuzzer", header)
    for state in OWN_STATE:
        write(out / "state_store_fuzzer", state)


if __name__ == "__main__":
    main(sys.argv[1])
