"""forwarded_allow_ips: behind a real nginx, the client address, scheme, host and port the
proxy reports reach the app (WSGI environ, ASGI scope) and the access log; from a peer that
is not trusted the same headers change nothing. The test's client connects from 127.0.0.2
(loopback too, but not a trusted proxy), so that nginx's X-Forwarded-For carries an address
the worker does not trust, as a real client's would be."""

import json
import socket
import time

import pytest

from conftest import Connection
from peers import Nginx

CLIENT = "127.0.0.2"
NGINX_PROXY_HEADERS = """
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Port 8443;
"""


def get(port, path, headers=b"", host=b"shop.example.com"):
    """(status, body) of a GET sent from CLIENT."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(CLIENT, 0))
    with Connection(sock) as connection:
        connection.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + headers + b"\r\n")
        status, _, body = connection.read_response()
    return status, body


@pytest.fixture
def nginx(tmp_path):
    proxies = []

    def start(upstream_port):
        proxy = Nginx(tmp_path, upstream_port, NGINX_PROXY_HEADERS)
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()


def test_wsgi_behind_nginx_sees_the_client_scheme_host_and_port(start_worker, nginx, tmp_path):
    access = tmp_path / "access.log"
    worker = start_worker("echo:environ_json", "--logging-access-log", str(access))
    proxy = nginx(worker.port)
    # The client claims to be 6.6.6.6: nginx appends the address it really came from.
    status, body = get(proxy.port, b"/where", b"X-Forwarded-For: 6.6.6.6\r\n")
    assert status == 200
    environ = json.loads(body)
    assert environ["REMOTE_ADDR"] == CLIENT
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["HTTP_HOST"] == "shop.example.com:8443"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("shop.example.com", "8443")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (access.exists() and access.read_text()):
        time.sleep(0.02)
    assert access.read_text().startswith(CLIENT + " ")  # the access log's h: the resolved client


def test_the_same_headers_from_an_untrusted_peer_change_nothing(start_worker):
    worker = start_worker("echo:environ_json")
    status, body = get(worker.port, b"/direct", b"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n"
                                                b"X-Forwarded-Host: evil.example\r\nForwarded: for=7.7.7.7\r\n")
    environ = json.loads(body)
    assert (status, environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]) == (200, CLIENT, "http")
    assert environ["HTTP_HOST"] == "shop.example.com"
    assert environ["HTTP_X_FORWARDED_FOR"] == "6.6.6.6"  # passed through untouched


def test_asgi_behind_nginx_gets_client_scheme_and_server(start_worker, nginx):
    worker = start_worker("asgi_app:app", "-k", "asgi")
    proxy = nginx(worker.port)
    status, body = get(proxy.port, b"/scope", b"X-Forwarded-For: 6.6.6.6\r\n")
    assert status == 200
    scope = json.loads(body)
    assert scope["client"]["items"][0] == CLIENT
    assert scope["scheme"] == "https"
    assert scope["server"]["items"] == ["shop.example.com", 8443]
    headers = dict((name["bytes"], value["bytes"]) for name, value in
                   (pair["items"] for pair in scope["headers"]["items"]))
    assert headers["host"] == "shop.example.com:8443"


def test_trusted_ranges_and_rfc7239_forwarded(start_worker):
    # The test client itself is the trusted proxy here, by a CIDR range.
    worker = start_worker("echo:environ_json", "--forwarded-allow-ips", "127.0.0.0/24")
    status, body = get(worker.port, b"/", b'Forwarded: for=203.0.113.9, for="[2001:db8::1]:4711";proto=https\r\n')
    environ = json.loads(body)
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"], environ["wsgi.url_scheme"]) == ("2001:db8::1", "4711", "https")


def test_contradictory_scheme_headers_from_a_trusted_proxy_are_400(start_worker):
    worker = start_worker("echo:environ_json", "--forwarded-allow-ips", "*")
    status, _ = get(worker.port, b"/", b"X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n")
    assert status == 400
    worker.wait_for_log("contradictory X-Forwarded-Proto, -Ssl and -Protocol headers")


def exchange_raw(port, raw, source=CLIENT):
    """What the server answers `raw` with, read to the close: (status or None, everything)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(raw)
        received = b""
        try:
            while data := sock.recv(65536):
                received += data
        except ConnectionResetError:
            pass
    return (int(received.split()[1]) if received.startswith(b"HTTP/") else None), received


def environ_of(received):
    return json.loads(received.partition(b"\r\n\r\n")[2])


REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"


def test_proxy_protocol_v1_from_an_allowed_proxy_gives_the_client(start_worker):
    worker = start_worker("echo:environ_json", "--proxy-protocol", "v1", "--proxy-allow-ips", "127.0.0.1")
    header = b"PROXY TCP4 203.0.113.5 192.0.2.1 51234 443\r\n"
    status, received = exchange_raw(worker.port, header + REQUEST, source="127.0.0.1")
    environ = environ_of(received)
    # The client, untrusted for forwarding headers, cannot pass for 6.6.6.6 either.
    assert (status, environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == (200, "203.0.113.5", "51234")
    # Keep-alive: the header names the client of every request on the connection.
    with Connection(socket.create_connection(("127.0.0.1", worker.port), timeout=10)) as connection:
        connection.sendall(header + b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert [environ_of(b"\r\n\r\n" + connection.read_response()[2])["REMOTE_ADDR"] for _ in range(2)] == \
            ["203.0.113.5", "203.0.113.5"]


def test_proxy_protocol_v2(start_worker):
    worker = start_worker("echo:environ_json", "--proxy-protocol", "v2")
    addresses = socket.inet_pton(socket.AF_INET6, "2001:db8::5") + socket.inet_pton(socket.AF_INET6, "::1") \
        + (4711).to_bytes(2, "big") + (443).to_bytes(2, "big")
    header = b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x21]) + len(addresses).to_bytes(2, "big") + addresses
    status, received = exchange_raw(worker.port, header + REQUEST, source="127.0.0.1")
    environ = environ_of(received)
    assert (status, environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == (200, "2001:db8::5", "4711")


@pytest.mark.parametrize("source,raw,why", [
    ("127.0.0.1", REQUEST, "no PROXY protocol header, and the peer is in proxy_allow_ips"),
    (CLIENT, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n" + REQUEST, "a PROXY protocol header from a peer not in proxy_allow_ips"),
    ("127.0.0.1", b"PROXY TCP4 1.2.3.4 oops 1 2\r\n" + REQUEST, "PROXY v1 line with a bad address or port"),
], ids=["missing", "untrusted", "malformed"])
def test_proxy_protocol_refusals_close_with_a_log_line(start_worker, source, raw, why):
    worker = start_worker("echo:environ_json", "--proxy-protocol", "v1", "--proxy-allow-ips", "127.0.0.1")
    assert exchange_raw(worker.port, raw, source=source) == (None, b"")
    worker.wait_for_log(f"closed the connection from {source}:")
    worker.wait_for_log(why)


def test_a_direct_client_is_served_as_it_is_when_proxy_protocol_is_on(start_worker):
    worker = start_worker("echo:environ_json", "--proxy-protocol", "v1", "--proxy-allow-ips", "127.0.0.1")
    status, received = exchange_raw(worker.port, REQUEST, source=CLIENT)
    assert (status, environ_of(received)["REMOTE_ADDR"]) == (200, CLIENT)
