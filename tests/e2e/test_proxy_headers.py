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
