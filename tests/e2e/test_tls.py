"""TLS on `https://` binds: certificates from a throwaway CA made by the test (openssl CLI),
real clients (curl, Python's ssl, requests, websockets, openssl s_client)."""

import asyncio
import hashlib
import json
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest
import requests
import websockets

from conftest import ARBITER_BIN
from peers import free_port


def openssl(*args, cwd, stdin=None):
    return subprocess.run(["openssl", *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=30, check=True)


def issue(directory, name, subject, issuer="ca", extensions="subjectAltName=DNS:localhost,IP:127.0.0.1"):
    """A P-256 key and a certificate for `subject`, signed by `issuer`."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=directory)
    (directory / f"{name}.ext").write_text(extensions + "\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=directory)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "rogue-ca"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                "-subj", f"/CN=hornbeam test {ca}", cwd=directory)
    issue(directory, "server", "/CN=first")
    issue(directory, "rotated", "/CN=rotated")
    issue(directory, "alice", "/O=Example/CN=alice", extensions="extendedKeyUsage=clientAuth")
    issue(directory, "mallory", "/CN=mallory", issuer="rogue-ca",
          extensions="extendedKeyUsage=clientAuth")
    openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:s3cret", "-out",
            "server-encrypted.key", cwd=directory)
    (directory / "password").write_text("s3cret\n")
    return directory


def tls_settings(pki, **extra):
    return {"bind": ["https://127.0.0.1:0", "127.0.0.1:0"],
            "tls": {"certfile": str(pki / "server.pem"), "keyfile": str(pki / "server.key"), **extra}}


def ports(arbiter):
    """(TLS port, plain port) from the arbiter's own listening lines."""
    found = dict(re.findall(rf"\[{arbiter.process.pid}\] \[info\] listening on 127\.0\.0\.1:(\d+)( \(TLS\))?",
                            arbiter.log)[:2])
    tls = next(int(port) for port, mark in found.items() if mark)
    plain = next(int(port) for port, mark in found.items() if not mark)
    return tls, plain


def client_context(pki, certificate=None, **options):
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if certificate:
        context.load_cert_chain(str(pki / f"{certificate}.pem"), str(pki / f"{certificate}.key"))
    for name, value in options.items():
        setattr(context, name, value)
    return context


def exchange(port, context, path="/", host="localhost"):
    """One request over a new TLS connection: (status, body, the connection's TLS facts)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            response = b""
            while chunk := tls.recv(65536):
                response += chunk
            facts = {"version": tls.version(), "cipher": tls.cipher()[0],
                     "compression": tls.compression(),
                     "peer": dict(part[0] for part in tls.getpeercert()["subject"])}
    head, _, body = response.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return int(head.split()[1]), body, facts


def dechunk(data):
    body = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return body
        body, data = body + data[:size], data[size + 2:]


def test_https_and_plain_binds_side_by_side(start_arbiter, pki, tmp_path):
    access = tmp_path / "access.log"
    arbiter = start_arbiter("tls_app:app", workers=1, settings={
        **tls_settings(pki),
        "logging": {"access_log": str(access),
                    "access_log_format": "%(r)s %(s)s %({SSL_PROTOCOL}e)s %({SSL_CIPHER}e)s"}})
    tls_port, plain_port = ports(arbiter)
    curl = subprocess.run(["curl", "-sS", "--cacert", str(pki / "ca.pem"),
                           f"https://localhost:{tls_port}/environ"],
                          capture_output=True, text=True, timeout=30)
    environ = json.loads(curl.stdout)
    assert environ["wsgi.url_scheme"] == "https" and environ["HTTPS"] == "on"
    assert environ["SSL_PROTOCOL"] == "TLSv1.3" and environ["SSL_CIPHER"].startswith("TLS_")
    assert environ["SSL_CLIENT_VERIFY"] == "NONE" and environ["SSL_CLIENT_S_DN"] is None
    plain = requests.get(f"http://127.0.0.1:{plain_port}/environ", timeout=10).json()
    assert plain["wsgi.url_scheme"] == "http" and plain["HTTPS"] is None
    # Bodies both ways and a file, through the TLS stream (no sendfile there).
    # verify= on each call: a session's own would lose to REQUESTS_CA_BUNDLE from the environment.
    session, ca = requests.Session(), str(pki / "ca.pem")
    big = session.get(f"https://localhost:{tls_port}/big", verify=ca, timeout=30)
    assert big.content == bytes(range(256)) * (4 * 4096)
    upload = bytes(range(256)) * 8192  # 2 MiB, streamed to the app
    assert session.post(f"https://localhost:{tls_port}/upload", data=upload, verify=ca,
                        timeout=30).text == \
        f"{len(upload)} {hashlib.sha256(upload).hexdigest()}"
    served_file = tmp_path / "served.bin"
    served_file.write_bytes(b"f" * (3 * 1024 * 1024 + 17))
    assert session.get(f"https://localhost:{tls_port}/file?path={served_file}", verify=ca,
                       timeout=30).content == served_file.read_bytes()
    # curl offers h2 by ALPN, and gets it.
    deadline = time.monotonic() + 10
    while "GET /environ HTTP/2.0 200 TLSv1.3 TLS_" not in access.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert re.search(r"^GET /environ HTTP/2.0 200 TLSv1\.3 TLS_\w+$", access.read_text(), re.MULTILINE)
    assert re.search(r"^GET /environ HTTP/1.1 200 - -$", access.read_text(), re.MULTILINE)
    # Clients that close without close_notify (Python's, wrk) have left: no refusal logged.
    assert "refused a request" not in arbiter.log, arbiter.log


def test_the_certificate_is_checked_by_clients_and_old_protocols_are_refused(start_arbiter, pki):
    arbiter = start_arbiter("tls_app:app", workers=1, settings=tls_settings(pki))
    tls_port, _ = ports(arbiter)
    status, _, facts = exchange(tls_port, client_context(pki))
    assert status == 200 and facts["peer"]["commonName"] == "first"
    assert facts["compression"] is None
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        exchange(tls_port, client_context(pki), host="wrong.example")
    # TLS 1.0 and 1.1 are refused by the server (the client is told to allow them).
    old = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{tls_port}", "-tls1_1",
                          "-cipher", "DEFAULT@SECLEVEL=0"], input="", capture_output=True,
                         text=True, timeout=30)
    assert old.returncode != 0 and "alert protocol version" in old.stdout + old.stderr
    # No renegotiation: a TLS 1.2 client that asks for one is refused.
    renegotiation = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{tls_port}", "-tls1_2",
         "-CAfile", str(pki / "ca.pem")], input="R\n", capture_output=True, text=True, timeout=30)
    assert "RENEGOTIATING" in renegotiation.stdout + renegotiation.stderr
    assert "no renegotiation" in renegotiation.stdout + renegotiation.stderr
    assert requests.get(f"https://localhost:{tls_port}/", verify=str(pki / "ca.pem"),
                        timeout=10).status_code == 200


def test_min_version_1_3_refuses_a_tls_1_2_client(start_arbiter, pki):
    arbiter = start_arbiter("tls_app:app", workers=1, settings=tls_settings(pki, min_version="1.3"))
    tls_port, _ = ports(arbiter)
    with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION|protocol version"):
        exchange(tls_port, client_context(pki, maximum_version=ssl.TLSVersion.TLSv1_2))
    assert exchange(tls_port, client_context(pki))[2]["version"] == "TLSv1.3"


def test_ciphers_choose_what_tls_1_2_clients_get(start_arbiter, pki):
    arbiter = start_arbiter("tls_app:app", workers=1, settings=tls_settings(
        pki, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"))
    tls_port, _ = ports(arbiter)
    tls12 = client_context(pki, maximum_version=ssl.TLSVersion.TLSv1_2)
    assert exchange(tls_port, tls12)[2]["cipher"] == "ECDHE-ECDSA-AES128-GCM-SHA256"
    other = client_context(pki, maximum_version=ssl.TLSVersion.TLSv1_2)
    other.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
    with pytest.raises(ssl.SSLError):
        exchange(tls_port, other)


@pytest.mark.parametrize("app", ["tls_app:app", "asgi_app:app"])
def test_each_connection_sees_its_own_session_on_one_context(start_arbiter, pki, app):
    """One context keeps the environ (scope) template of the TLS session it saw last: a
    connection with another protocol, cipher or a client certificate must still see its own."""
    asgi = app.startswith("asgi")
    arbiter = start_arbiter(app, workers=1, settings={
        **tls_settings(pki, ca_certs=str(pki / "ca.pem"), verify_client="optional"),
        "contexts": 1, **({"worker_class": "asgi"} if asgi else {})})
    tls_port, _ = ports(arbiter)
    tls12 = client_context(pki, maximum_version=ssl.TLSVersion.TLSv1_2)
    tls12.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    clients = [("TLSv1.3", None), ("TLSv1.2", None), ("TLSv1.3", "alice"), ("TLSv1.3", None),
               ("TLSv1.2", "alice"), ("TLSv1.2", None)]
    for version, certificate in clients:
        context = tls12 if version == "TLSv1.2" else client_context(pki)
        if certificate:
            context.load_cert_chain(str(pki / f"{certificate}.pem"), str(pki / f"{certificate}.key"))
        status, body, facts = exchange(tls_port, context, "/scope" if asgi else "/environ")
        assert status == 200 and facts["version"] == version
        seen = json.loads(body)
        if asgi:
            tls = seen["extensions"]["tls"]
            assert seen["scheme"] == "https"
            assert tls["tls_version"] == (0x0304 if version == "TLSv1.3" else 0x0303)
            assert (tls["cipher_suite"] == 0xC02B if version == "TLSv1.2"
                    else tls["cipher_suite"] >> 8 == 0x13)  # ECDHE-ECDSA-AES128-GCM-SHA256, TLS_*
            assert tls["client_cert_name"] == ("CN=alice,O=Example" if certificate else None)
            assert len(tls["client_cert_chain"]["items"]) == (1 if certificate else 0)
        else:
            assert seen["wsgi.url_scheme"] == "https" and seen["HTTPS"] == "on"
            assert seen["SSL_PROTOCOL"] == version and seen["SSL_CIPHER"] == facts["cipher"]
            assert seen["SSL_CLIENT_VERIFY"] == ("SUCCESS" if certificate else "NONE")
            assert seen["SSL_CLIENT_S_DN"] == ("CN=alice,O=Example" if certificate else None)
        if context is tls12 and certificate:  # the next TLS 1.2 client comes without one
            tls12 = client_context(pki, maximum_version=ssl.TLSVersion.TLSv1_2)
            tls12.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")


class TlsOverMemory:
    """A TLS client whose ciphertext the test sends itself: one byte per TCP segment, or
    several records in one."""

    def __init__(self, port, context):
        self.raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")

    def send(self, trickle):
        data = self.outgoing.read()
        if not trickle:
            return self.raw.sendall(data)
        for offset in range(len(data)):
            self.raw.sendall(data[offset:offset + 1])
            time.sleep(0.0005)

    def receive(self):
        data = self.raw.recv(65536)
        if not data:
            raise AssertionError("the server closed the connection")
        self.incoming.write(data)

    def handshake(self, trickle):
        while True:
            try:
                self.tls.do_handshake()
                return self.send(trickle)
            except ssl.SSLWantReadError:
                self.send(trickle)
                self.receive()

    def responses(self, count):
        """`count` responses with Content-Length bodies: their bodies."""
        data, bodies = b"", []
        while len(bodies) < count:
            try:
                data += self.tls.read(65536)
            except ssl.SSLWantReadError:
                self.receive()
                continue
            while b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                if len(rest) < length:
                    break
                bodies.append(rest[:length])
                data = rest[length:]
        return bodies


def test_records_in_pieces_and_records_sent_together_are_all_read(start_arbiter, pki):
    """The worker reads ciphertext ahead of OpenSSL into a small buffer (worker/tls_socket.hpp):
    a handshake and a request arriving a byte at a time, a record larger than that buffer, and
    two requests in two records of one segment must all come through whole."""
    arbiter = start_arbiter("tls_app:app", workers=1, settings=tls_settings(pki))
    tls_port, _ = ports(arbiter)
    client = TlsOverMemory(tls_port, client_context(pki))
    with client.raw:
        client.handshake(trickle=True)
        client.tls.write(b"GET /environ HTTP/1.1\r\nHost: localhost\r\n\r\n")
        client.send(trickle=True)
        assert json.loads(client.responses(1)[0])["SSL_PROTOCOL"] == "TLSv1.3"
        padding = "x" * 6000  # one record of 6 KiB: three times the buffer
        client.tls.write(f"GET /environ HTTP/1.1\r\nHost: localhost\r\nX-Pad: {padding}\r\n\r\n".encode())
        client.send(trickle=False)
        assert json.loads(client.responses(1)[0])["HTTPS"] == "on"
        for path in ("/environ", "/sleep?s=0.2"):  # two records, one segment
            client.tls.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        client.send(trickle=False)
        first, second = client.responses(2)
        assert json.loads(first)["HTTPS"] == "on" and second == b"slept"


def test_an_encrypted_key_is_read_with_its_password_file(start_arbiter, pki):
    settings = tls_settings(pki, keyfile=str(pki / "server-encrypted.key"),
                            password_file=str(pki / "password"))
    arbiter = start_arbiter("tls_app:app", workers=1, settings=settings)
    assert exchange(ports(arbiter)[0], client_context(pki))[0] == 200
    # Without the passphrase: a configuration error that names the settings, before any worker.
    del settings["tls"]["password_file"]
    refused = start_arbiter("tls_app:app", workers=1, settings=settings, expect_ready=False)
    assert refused.process.wait(30) == 2
    refused.wait_for_log(r"`tls\.keyfile`: cannot load a PEM private key from `\S+server-encrypted"
                         r"\.key` \(an encrypted key needs `tls\.password_file`\)")


def test_a_client_that_never_finishes_its_handshake_is_dropped_and_counted(start_arbiter, pki):
    metrics = f"127.0.0.1:{free_port()}"
    arbiter = start_arbiter("tls_app:app", workers=1, settings={
        **tls_settings(pki, handshake_timeout="500ms"), "metrics_bind": metrics})
    tls_port, _ = ports(arbiter)
    silent = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    half = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    half.sendall(b"\x16\x03\x01\x00\xff")  # the start of a ClientHello, and no more
    started = time.monotonic()
    assert exchange(tls_port, client_context(pki))[0] == 200, "others are served meanwhile"
    assert silent.recv(1) == b"" and half.recv(1) == b""
    assert 0.4 < time.monotonic() - started < 5
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = requests.get(f"http://{metrics}/metrics", timeout=10).text
        if "hornbeam_tls_handshake_failures_total 2" in text:
            break
        time.sleep(0.2)
    assert "hornbeam_tls_handshake_failures_total 2" in text


def test_client_certificates_required_accepted_and_refused(start_arbiter, pki):
    arbiter = start_arbiter("tls_app:app", workers=1, settings=tls_settings(
        pki, ca_certs=str(pki / "ca.pem"), verify_client="required"))
    tls_port, _ = ports(arbiter)
    status, body, _ = exchange(tls_port, client_context(pki, certificate="alice"), "/environ")
    environ = json.loads(body)
    assert status == 200 and environ["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert environ["SSL_CLIENT_S_DN"] == "CN=alice,O=Example"
    assert environ["SSL_CLIENT_I_DN"] == "CN=hornbeam test ca"
    assert environ["SSL_CLIENT_CERT"].startswith("-----BEGIN CERTIFICATE-----")
    for refused in (None, "mallory"):  # none, and one from another CA
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            exchange(tls_port, client_context(pki, certificate=refused), "/environ")


def test_optional_client_certificates_and_the_asgi_tls_extension(start_arbiter, pki):
    arbiter = start_arbiter("asgi_app:app", workers=1, settings={
        **tls_settings(pki, ca_certs=str(pki / "ca.pem"), verify_client="optional"),
        "worker_class": "asgi"})
    tls_port, _ = ports(arbiter)
    _, body, facts = exchange(tls_port, client_context(pki, certificate="alice"), "/scope")
    scope = json.loads(body)
    assert scope["scheme"] == "https"
    extension = scope["extensions"]["tls"]
    assert extension["client_cert_name"] == "CN=alice,O=Example"
    assert extension["client_cert_chain"]["items"][0].startswith("-----BEGIN CERTIFICATE-----")
    assert extension["client_cert_error"] is None and extension["server_cert"] is None
    assert extension["tls_version"] == 0x0304 and isinstance(extension["cipher_suite"], int)
    _, body, _ = exchange(tls_port, client_context(pki), "/scope")  # no certificate: served
    assert json.loads(body)["extensions"]["tls"]["client_cert_name"] is None


# An ASGI receive() over TLS takes all that OpenSSL can decrypt by then into its message (up
# to 1 MiB), not one record of 16 KiB per message.
def test_an_asgi_body_that_has_arrived_over_tls_comes_in_one_message(start_arbiter, pki):
    arbiter = start_arbiter("asgi_app:app", workers=1, settings={
        **tls_settings(pki), "worker_class": "asgi"})
    tls_port, _ = ports(arbiter)
    body = bytes(range(256)) * 3500  # 896,000 bytes
    answer = requests.post(f"https://localhost:{tls_port}/late-echo", data=body, verify=str(pki / "ca.pem"),
                           timeout=30)
    assert (answer.status_code, answer.json()) == (200, {"sizes": [len(body)]})


def test_websockets_over_tls(start_arbiter, pki):
    arbiter = start_arbiter("asgi_app:websocket_app", workers=1, settings={
        **tls_settings(pki), "worker_class": "asgi"})
    tls_port, _ = ports(arbiter)

    async def talk():
        async with websockets.connect(f"wss://localhost:{tls_port}/echo",
                                      ssl=client_context(pki)) as ws:
            replies = []
            for text in ("one", "x" * 300_000):
                await ws.send(text)
                replies.append(await ws.recv())
            return replies

    replies = asyncio.run(talk())
    assert replies[0].endswith("one") and len(replies[1]) >= 300_000


def test_hup_rotates_the_certificate_and_a_bad_one_changes_nothing(start_arbiter, pki, tmp_path):
    certificate, key = tmp_path / "live.pem", tmp_path / "live.key"
    certificate.write_bytes((pki / "server.pem").read_bytes())
    key.write_bytes((pki / "server.key").read_bytes())
    arbiter = start_arbiter("tls_app:app", workers=1, settings={
        "bind": ["https://127.0.0.1:0"], "tls": {"certfile": str(certificate), "keyfile": str(key)}})
    tls_port = int(re.search(r"listening on 127\.0\.0\.1:(\d+) \(TLS\)", arbiter.log).group(1))
    assert exchange(tls_port, client_context(pki))[2]["peer"]["commonName"] == "first"
    # A request in flight on the old certificate's connection finishes after the reload.
    with socket.create_connection(("127.0.0.1", tls_port), timeout=30) as raw, \
            client_context(pki).wrap_socket(raw, server_hostname="localhost") as old:
        entered = tmp_path / "entered"
        old.sendall(f"GET /sleep?s=1.5&marker={entered} HTTP/1.1\r\nHost: localhost\r\n"
                    "Connection: close\r\n\r\n".encode())
        deadline = time.monotonic() + 10
        while not entered.exists() and time.monotonic() < deadline:  # in the app: now reload
            time.sleep(0.02)
        certificate.write_bytes((pki / "rotated.pem").read_bytes())
        key.write_bytes((pki / "rotated.key").read_bytes())
        arbiter.send(signal.SIGHUP)
        arbiter.wait_for_log(r"generation 2: 1 worker\(s\) ready")
        # Until the old worker has its SIGTERM it still accepts (as Gunicorn's do), and a new
        # connection may land on it, with the old certificate: one CI run saw that.
        arbiter.wait_for_log(r"SIGTERM: finishing in-flight requests")
        assert exchange(tls_port, client_context(pki))[2]["peer"]["commonName"] == "rotated"
        answer = b""
        while chunk := old.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"slept")
        assert dict(p[0] for p in old.getpeercert()["subject"])["commonName"] == "first"
    # A broken certificate: the reload is refused, named, and the rotated one still serves.
    certificate.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    arbiter.send(signal.SIGHUP)
    arbiter.wait_for_log(r"reload: \S+: `tls\.certfile`: cannot load a PEM certificate")
    arbiter.wait_for_log(r"SIGHUP: the new configuration is invalid; still serving with the previous one")
    assert exchange(tls_port, client_context(pki))[2]["peer"]["commonName"] == "rotated"


def test_clients_that_leave_mid_response_leave_the_worker_serving(start_arbiter, pki):
    arbiter = start_arbiter("tls_app:app", workers=1, settings=tls_settings(pki))
    tls_port, _ = ports(arbiter)
    [worker] = arbiter.workers()
    for _ in range(20):
        # Each leaves (FIN) as soon as it has asked for 4 MiB: the worker's write after the
        # client's RST fails with EPIPE, which write(2) would turn into a deadly SIGPIPE.
        with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw:
            with client_context(pki).wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert exchange(tls_port, client_context(pki))[0] == 200
    assert arbiter.workers() == [worker], arbiter.log


def test_tls_settings_without_an_https_bind_are_named_not_ignored(start_arbiter, start_worker, pki, tmp_path):
    # Gunicorn's `certfile` alone makes every bind TLS; here a bind is TLS when written
    # `https://`. A configuration set up the Gunicorn way served plain HTTP without a word.
    settings = {"tls": {"certfile": str(pki / "server.pem"), "keyfile": str(pki / "server.key")}}
    expected = ("`tls.certfile`, `tls.keyfile` set, but no bind is `https://`: no TLS is served, every "
                "bind serves plain HTTP (write a bind as `https://host:port` to serve TLS on it)")
    arbiter = start_arbiter("echo:hello", workers=1, settings=settings)
    arbiter.wait_for_log(re.escape(expected))
    assert arbiter.log.count("no bind is `https://`") == 1, "said by the arbiter, not by every worker"
    assert requests.get(arbiter.url, timeout=10).text == "Hello, World!"
    worker = start_worker("echo:hello", "--tls-certfile", str(pki / "server.pem"))
    worker.wait_for_log("`tls.certfile` set, but no bind is `https://`")
    config = tmp_path / "check.yaml"
    config.write_text(json.dumps({"app": "echo:hello", **settings}))
    checked = subprocess.run([ARBITER_BIN, "--check-config", "-c", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0 and expected in checked.stderr, checked
