"""``POST {base_url}nlme-lab/check``: the diagnostics of model text, for the JupyterLab editor.

An ordinary Jupyter API handler: the server's authentication (token or login cookie), its
authorization (resource ``nlme_lab``, action ``read``: checking changes nothing) and, for
cookie-authenticated requests, its XSRF check (``X-XSRFToken``), as for every Jupyter POST.
The body is ``{"text": "..."}`` as ``application/json`` and nothing else (``check.read_request``);
the answer is ``{"ok", "diagnostics": [...]}`` (``CheckResult.to_json``). No kernel is involved.

The check runs on one worker thread, so a long text never blocks the server and checks never
run concurrently.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from nlme_lab.jupyter.check import RequestRefused, check_model_text, read_request

CHECK_ROUTE = ("nlme-lab", "check")
AUTH_RESOURCE = "nlme_lab"

_CHECKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlme_lab-check")


class CheckHandler(APIHandler):
    """Model text in, every located problem out."""

    auth_resource = AUTH_RESOURCE

    @tornado.web.authenticated
    @authorized("read")
    async def post(self) -> None:
        try:
            text = read_request(self.request.body, self.request.headers.get("Content-Type"))
        except RequestRefused as refused:
            raise tornado.web.HTTPError(int(refused.status), refused.message) from None
        result = await asyncio.get_running_loop().run_in_executor(_CHECKER, check_model_text, text)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(result.to_json()))


def check_url(base_url: str) -> str:
    """The handler's path under the server's ``base_url``."""
    return url_path_join(base_url, *CHECK_ROUTE)


def add_handlers(web_app) -> str:
    """Register the handler on a Jupyter server's tornado application; returns its path."""
    route = check_url(web_app.settings["base_url"])
    web_app.add_handlers(".*$", [(route, CheckHandler)])
    return route
