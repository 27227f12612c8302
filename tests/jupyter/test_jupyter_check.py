"""The server extension's pure half: requests read or refused, model text checked."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nlme_lab.errors import ModelError
from nlme_lab.examples import example_path
from nlme_lab.jupyter.check import (
    MAX_BODY_BYTES,
    Refusal,
    RequestRefused,
    check_model_text,
    read_request,
)
from nlme_lab.model import Model
from nlme_lab.model.source import MAX_FILE_BYTES

JSON = "application/json"
THEO = example_path("theo_sd.nlm").read_text()


def _body(payload) -> bytes:
    return json.dumps(payload).encode()


def test_read_request_returns_the_text():
    assert read_request(_body({"text": THEO}), JSON) == THEO
    assert read_request(_body({"text": "é\n"}), "Application/JSON; charset=utf-8") == "é\n"


@pytest.mark.parametrize(
    "body,content_type,status,words",
    [
        (_body({"text": "x"}), "text/plain", Refusal.NOT_JSON, "application/json, not text/plain"),
        (_body({"text": "x"}), None, Refusal.NOT_JSON, "not no type"),
        (_body({"text": "x"}), "multipart/form-data; boundary=x", Refusal.NOT_JSON, "multipart/form-data"),
        (b"[ini]", JSON, Refusal.BAD_REQUEST, "not UTF-8 JSON"),
        (b'{"text": "\xff"}', JSON, Refusal.BAD_REQUEST, "not UTF-8 JSON"),
        (_body(["x"]), JSON, Refusal.BAD_REQUEST, "no other field"),
        (_body({}), JSON, Refusal.BAD_REQUEST, "no other field"),
        (_body({"text": "x", "path": "/etc/passwd"}), JSON, Refusal.BAD_REQUEST, "no other field"),
        (_body({"text": 3}), JSON, Refusal.BAD_REQUEST, "must be a string, not int"),
        (_body({"text": None}), JSON, Refusal.BAD_REQUEST, "must be a string, not NoneType"),
        (b'{"text": "ok \\ud800 half"}', JSON, Refusal.BAD_REQUEST, "not Unicode text: surrogates not allowed at character 4"),
        (_body({"text": "a" * (MAX_FILE_BYTES + 1)}), JSON, Refusal.TOO_LARGE, f"is {MAX_FILE_BYTES + 1} bytes"),
        (_body({"text": "é" * (MAX_FILE_BYTES // 2 + 1)}), JSON, Refusal.TOO_LARGE, f"a model is at most {MAX_FILE_BYTES}"),
        (b" " * (MAX_BODY_BYTES + 1), JSON, Refusal.TOO_LARGE, f"the limit is {MAX_BODY_BYTES}"),
    ],
)
def test_read_request_refuses_anything_but_model_text(body, content_type, status, words):
    with pytest.raises(RequestRefused) as refused:
        read_request(body, content_type)
    assert refused.value.status == status
    assert words in refused.value.message


def test_a_model_file_sized_text_is_accepted_even_when_escaped():
    text = "\n" * MAX_FILE_BYTES  # 1 byte each, 2 in JSON
    assert read_request(_body({"text": text}), JSON) == text


def test_check_reports_every_error_with_line_and_column():
    text = THEO.replace("exp(tcl + eta_cl)", "exp(tcl + eta_cll)").replace("exp(tv + eta_v)", "exp(tw + eta_v)")
    with pytest.raises(ModelError) as err:
        Model(text)
    result = check_model_text(text)
    assert not result.ok
    assert result.diagnostics == err.value.diagnostics  # the model's own list, nothing lost
    assert len(result.diagnostics) == 2
    wire = result.to_json()
    assert wire["ok"] is False
    first = wire["diagnostics"][0]
    assert set(first) == {"line", "column", "end_column", "message", "severity"}
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "eta_cll" in row)
    assert any(d["line"] == line and d["column"] == text.splitlines()[line - 1].index("eta_cll") + 1
               and "eta_cll" in d["message"] and "did you mean eta_cl" in d["message"] for d in wire["diagnostics"])


def test_check_returns_the_warnings_of_a_model_that_parses():
    text = THEO.replace("eta_v  ~ 0.1", "eta_v  ~ 0.1\neta_unused ~ 0.2")
    result = check_model_text(text)
    assert result.ok
    assert result.diagnostics == Model._derived(text, "").warnings
    assert [d.severity for d in result.diagnostics] == ["warning"]
    assert "eta_unused" in result.diagnostics[0].message


def test_check_of_a_good_or_empty_model_is_clean():
    assert check_model_text(THEO).to_json() == {"ok": True, "diagnostics": []}
    assert check_model_text("  \n").to_json() == {"ok": True, "diagnostics": []}


def test_model_text_is_never_executed(tmp_path):
    marker = tmp_path / "ran"
    for attack in (f"__import__('os').system('touch {marker}')",
                   f"[model]\nx = exec(\"open('{marker}', 'w')\")\ny ~ add(1)",
                   f"[ini]\na = 1 # {{open('{marker}','w')}}\n[model]\nb = eval(a)\nb ~ add(1)"):
        assert not check_model_text(attack).ok
    assert not marker.exists()


def test_the_new_model_template_is_a_clean_model():
    template = Path(__file__).resolve().parents[2] / "js" / "src" / "labextension" / "untitled.nlm"
    text = template.read_text()
    assert check_model_text(text).to_json() == {"ok": True, "diagnostics": []}
    assert [t.name for t in Model(text).thetas] == ["tka", "tcl", "tv", "add_sd"] and text.startswith("# ")


def test_checks_load_neither_code_generation_nor_numba():
    code = ("import sys; from nlme_lab.jupyter.handlers import CheckHandler; "
            "from nlme_lab.jupyter.check import check_model_text; from nlme_lab.examples import example_path; "
            "assert check_model_text(example_path('theo_sd.nlm').read_text()).ok; "
            "assert not check_model_text('[ini]\\na = 1\\n[model]\\nb = exp(').ok; "
            "print(','.join(m for m in ('numba', 'nlme_lab.model.codegen', 'nlme_lab.kernels', 'nlme_lab.estimation', "
            "'ipykernel', 'nlme_lab.widgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
