"""Request hooks that do nothing: what running hooks at all costs (bench/run.py's
'hornbeam hooks' row)."""


def on_request(request):
    return None


def on_response(request, status, headers):
    return None
