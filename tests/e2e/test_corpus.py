"""The HTTP/1.x request corpus (../shared/corpus/http-requests, from Gunicorn's test suite).

Every valid case must reach the app as exactly the expected requests (method, path, query,
headers, body, in order); every invalid case must get a 4xx/5xx and a closed connection.
Cases that only hold under a setting hornbeam does not have are skipped with the reason."""

import base64
import json
import os
import socket
import urllib.parse
from pathlib import Path

import pytest

from conftest import Connection, Worker

CORPUS = Path(os.environ.get("HB_TEST_CORPUS",
                             Path(__file__).resolve().parents[3] / "shared" / "corpus" / "http-requests"))

# Corpus setting → our command-line flag. Gunicorn's 0 means "the default" for field size.
EQUIVALENT = {
    "limit_request_line": "--limits-max-request-line",
    "limit_request_field_size": "--limits-max-header-size",
    "limit_request_fields": "--limits-max-headers",
    "forwarded_allow_ips": "--forwarded-allow-ips",
}
WHY_NOT = {
    "proxy_protocol": "hornbeam has no PROXY protocol setting",
    "permit_obsolete_folding": "hornbeam always refuses obs-fold (no setting permits it)",
    "strip_header_spaces": "hornbeam has no setting to strip spaces before the colon",
    "permit_unconventional_http_method": "hornbeam has no setting for unconventional methods",
    "casefold_http_method": "hornbeam has no method case-folding setting",
    "header_map": "hornbeam always drops headers with `_` (no header_map setting)",
}


def test_the_corpus_is_complete():
    """A missing corpus must fail, not collapse into an empty, silently skipped test."""
    assert len(list(CORPUS.glob("*/*.json"))) == 137, f"the request corpus is not at {CORPUS} (set HB_TEST_CORPUS)"


def cases():
    for kind in ("valid", "invalid"):
        for path in sorted((CORPUS / kind).glob("*.json")):
            yield pytest.param(path, id=f"{kind}/{path.stem}")


def flags_for(settings):
    flags = []
    for name, value in sorted(settings.items()):
        if name in WHY_NOT:
            pytest.skip(WHY_NOT[name])
        if name == "limit_request_field_size" and value == 0:
            continue  # 0 = Gunicorn's default (8190), which is ours too
        flags += [EQUIVALENT[name], str(value)]
    # The corpus assumes Gunicorn's defaults where they differ from ours.
    if "--limits-max-request-line" not in flags:
        flags += ["--limits-max-request-line", "4094"]
    return flags


# Cases where hornbeam deliberately answers otherwise than the corpus, and why. The test
# asserts hornbeam's answer, so a change of behaviour is still caught.
DEVIATIONS = {
    "valid/009": (400, "Transfer-Encoding `identity` without a final `chunked`, with a Content-Length: "
                       "RFC 9112 §6.3 requires 400 and the worker issue says never guess; Gunicorn accepts it"),
}
# Cases no server on a real socket can pass.
UNREACHABLE = {
    "valid/099": "the request is truncated in the corpus (Content-Length 17914, 8599 bytes sent): "
                 "a server must wait for the rest of the body",
}

_workers = {}


@pytest.fixture(scope="module", autouse=True)
def stop_workers():
    yield
    for worker in _workers.values():
        worker.stop()


def worker_with(flags):
    key = tuple(flags)
    if key not in _workers:
        _workers[key] = Worker("echo:environ_json", *flags)
    return _workers[key]


def unquote_to_latin1(path):
    """PEP 3333: PATH_INFO is the percent-decoded path, its bytes as latin-1 (the corpus
    stores raw bytes as latin-1 text too)."""
    return urllib.parse.unquote_to_bytes(path.encode("latin-1")).decode("latin-1")


def expected_environ_headers(headers):
    """The HTTP_* keys the app must see for the corpus' header list."""
    expected = {}
    for name, value in headers:
        if "_" in name:
            continue  # dropped: would collide with the `-` spelling
        key = {"CONTENT-TYPE": "CONTENT_TYPE", "CONTENT-LENGTH": "CONTENT_LENGTH"}.get(name, "HTTP_" + name.replace("-", "_"))
        expected[key] = expected[key] + ", " + value if key in expected and key.startswith("HTTP_") else value
    return expected


@pytest.mark.parametrize("case_path", cases())
def test_corpus_case(case_path):
    case = json.loads(case_path.read_text())
    name = case["name"]
    if name in UNREACHABLE:
        pytest.skip(UNREACHABLE[name])
    worker = worker_with(flags_for(case.get("settings", {})))
    if name in DEVIATIONS:
        status, _ = DEVIATIONS[name]
        with worker.connect() as connection:
            connection.sendall(base64.b64decode(case["raw_base64"]))
            assert connection.read_response()[0] == status
        return
    raw = base64.b64decode(case["raw_base64"])
    with Connection(socket.create_connection(("127.0.0.1", worker.port), timeout=10)) as connection:
        connection.sendall(raw)
        if case["expect"] == "error":
            connection.sock.shutdown(socket.SHUT_WR)  # incomplete cases must end, not hang
            try:
                status, _, _ = connection.read_response()
            except ConnectionError:
                status = None  # closed without an answer: acceptable, never a 2xx
            assert status is None or 400 <= status < 600, f"{case['error']} answered {status}"
            with pytest.raises((ConnectionError, OSError)):
                while True:
                    connection.read_response()
            return
        for expected in case["requests"]:
            status, _, body = connection.read_response()
            assert status == 200, body
            environ = json.loads(body)
            assert environ["REQUEST_METHOD"] == expected["method"]
            assert environ["RAW_URI"] == expected["uri"]["raw"]
            if expected["method"] == "CONNECT":
                # authority-form: PATH_INFO is the authority as sent (Gunicorn's urlsplit turns
                # "example.com:443" into the path "443").
                assert environ["PATH_INFO"] == expected["uri"]["raw"]
            else:
                assert environ["PATH_INFO"] == unquote_to_latin1(expected["uri"]["path"])
            assert environ["QUERY_STRING"] == expected["uri"]["query"]
            assert environ["SERVER_PROTOCOL"] == expected["version"]
            seen = {key: value for key, value in environ.items()
                    if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")}
            assert seen == expected_environ_headers(expected["headers"])
            assert environ["body"] == base64.b64decode(expected["body_base64"]).decode("latin-1")
