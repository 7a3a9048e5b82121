"""A WSGI app for the TLS tests: what the environ says of the connection, and the paths a
response can take (a body, a file, a streamed upload) over TLS."""

import hashlib
import json
import time
from urllib.parse import parse_qs

TLS_KEYS = ("wsgi.url_scheme", "HTTPS", "SSL_PROTOCOL", "SSL_CIPHER", "SSL_CLIENT_VERIFY",
            "SSL_CLIENT_S_DN", "SSL_CLIENT_I_DN", "SSL_CLIENT_CERT")


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = parse_qs(environ["QUERY_STRING"])
    if path == "/file":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(query["path"][0], "rb"), 65536)
    if path == "/big":
        body = bytes(range(256)) * (4 * 4096)  # 4 MiB
    elif path == "/upload":
        digest, total = hashlib.sha256(), 0
        while piece := environ["wsgi.input"].read(65536):
            digest.update(piece)
            total += len(piece)
        body = f"{total} {digest.hexdigest()}".encode()
    elif path == "/sleep":
        if "marker" in query:  # tells the test the request is in the app
            open(query["marker"][0], "w").close()
        time.sleep(float(query["s"][0]))
        body = b"slept"
    else:
        body = json.dumps({key: environ.get(key) for key in TLS_KEYS}).encode()
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body)))])
    return [body]
