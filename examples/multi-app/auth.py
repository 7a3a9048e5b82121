"""A request hook in front of both apps: no token, no entry (WebSocket handshakes included).
The token comes from the environment (MULTI_APP_TOKEN, `secret` by default)."""

import os

TOKEN = os.environ.get("MULTI_APP_TOKEN", "secret")


def require_token(request):
    given = request.header("Authorization", "")
    if given != f"Bearer {TOKEN}":
        status = 401 if request.kind == "http" else 403
        return status, [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")], "token required\n"
    return None
