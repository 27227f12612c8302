"""The server extension in a real ``jupyter lab`` (served under a base URL): authentication,
XSRF, refusals and the diagnostics it answers with."""

import http.cookiejar
import urllib.error
import urllib.request

import pytest

from nlme_lab.examples import example_path
from nlme_lab.jupyter.check import MAX_FILE_BYTES, check_model_text
from tests.jupyter.helpers import post_check
from tests.ui.conftest import running_jupyter_lab

BASE_URL = "/base/"
ENABLE = "--ServerApp.jpserver_extensions=nlme_lab.jupyter=True"
THEO = example_path("theo_sd.nlm").read_text()
TYPO = THEO.replace("exp(tcl + eta_cl)", "exp(tcl + eta_cll)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    pytest.importorskip("jupyter_server", reason="the jupyter extra is not installed")
    with running_jupyter_lab(tmp_path_factory.mktemp("jupyter"), (ENABLE,), base_url=BASE_URL) as lab:
        yield lab


def test_diagnostics_of_a_typo_at_line_and_column(lab):
    status, reply = post_check(lab, {"text": TYPO})
    assert status == 200
    assert reply == check_model_text(TYPO).to_json()
    (found,) = reply["diagnostics"]
    row = next(i for i, line in enumerate(TYPO.splitlines(), 1) if "eta_cll" in line)
    assert (found["line"], found["column"], found["end_column"]) == (row, 16, 23)
    assert found["message"] == "'eta_cll' is not defined in the model; did you mean eta_cl?"
    assert found["severity"] == "error"
    assert post_check(lab, {"text": THEO}) == (200, {"ok": True, "diagnostics": []})


def test_the_handler_lives_under_the_base_url(lab):
    root = lab.url.removesuffix(BASE_URL.rstrip("/"))
    request = urllib.request.Request(f"{root}/nlme-lab/check", data=b'{"text": ""}', method="POST",
                                     headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == 404


def test_unauthenticated_requests_are_refused(lab):
    status, reply = post_check(lab, {"text": THEO}, token=False)
    assert status == 403
    assert "diagnostics" not in reply
    status, _ = post_check(lab, {"text": THEO}, token=False, headers={"Authorization": "token not-the-token"})
    assert status == 403


def test_cookie_sessions_need_the_xsrf_token(lab):
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with browser.open(f"{lab.url}/lab?token={lab.token}", timeout=30) as page:  # logs in, as a browser does
        assert page.status == 200
    cookies = {cookie.name: cookie.value for cookie in jar}
    assert "_xsrf" in cookies and any(name.startswith("username-") for name in cookies)
    status, reply = post_check(lab, {"text": TYPO}, opener=browser, token=False)
    assert status == 403 and "'_xsrf' argument missing" in reply["message"]
    status, reply = post_check(lab, {"text": TYPO}, opener=browser, token=False, headers={"X-XSRFToken": "forged"})
    assert status == 403 and "XSRF" in reply["message"]
    status, reply = post_check(lab, {"text": TYPO}, opener=browser, token=False, headers={"X-XSRFToken": cookies["_xsrf"]})
    assert status == 200 and reply == check_model_text(TYPO).to_json()


@pytest.mark.parametrize(
    "body,content_type,status,words",
    [
        ({"text": THEO}, "text/plain", 415, "application/json"),
        (b"[ini]\na = 1", "application/json", 400, "not UTF-8 JSON"),
        ({"text": THEO, "path": "/etc/passwd"}, "application/json", 400, "no other field"),
        ({"text": ["[ini]"]}, "application/json", 400, "must be a string"),
        ({"text": "x" * (MAX_FILE_BYTES + 1)}, "application/json", 413, "a model is at most"),
    ],
)
def test_anything_but_model_text_is_refused(lab, body, content_type, status, words):
    got, reply = post_check(lab, body, headers={"Content-Type": content_type})
    assert got == status
    assert words in reply["message"] and "diagnostics" not in reply


def test_only_post_is_served(lab):
    for method in ("GET", "PUT", "DELETE"):
        status, _ = post_check(lab, None if method != "PUT" else {"text": THEO}, method=method)
        assert status == 405, method
