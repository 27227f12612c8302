"""Requests to the server extension's check handler, for tests of a running server."""

import json
import urllib.error
import urllib.request


def post_check(lab, body, *, headers=None, opener=None, token=True, method="POST", path="/nlme-lab/check"):
    """(status, JSON reply) of a request to the handler; ``token`` sends the token header."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        headers["Authorization"] = f"token {lab.token}"
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{lab.url}{path}", data=data, headers=headers, method=method)
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        try:
            return err.code, json.loads(text)
        except ValueError:
            return err.code, {"page": text[:200]}
