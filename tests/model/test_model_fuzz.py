"""Property: any text, in particular mangled versions of the shared models, gives a Model or a
ModelError whose every diagnostic is located (line >= 1, column >= 1, within the text) -
never another exception type."""

import re
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlme_lab.errors import ModelError
from nlme_lab.model import Model
from nlme_lab.model.source import normalize_text

from tests.conftest import MODELS
TEXTS = [p.read_text() for p in sorted(MODELS.glob("*.nlm"))]
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\*\*|[^\sA-Za-z0-9_]")
INTERESTING = list("()[]=~+-*/^.,:;'\"#|<>!\n\t 0123456789eE_xz") + [
    "**", "==", "if", "else", "and", "not", "fix(", "linCmt()", "d/dt(", "exp(", "min(", "[ini]", "[model]",
    "lambda", "__import__", "1e999", "0", "-", "(0,", "~ ", "| OCC", "\n[model]\n", "eta_x ~ 0.1\n",
]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(text: str) -> None:
    n_lines = normalize_text(text).count("\n") + 1  # CR and CRLF end lines too
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = Model(text)
    except ModelError as err:
        assert err.diagnostics and err.line >= 1 and err.column >= 1
        for diag in err.diagnostics:
            assert 1 <= diag.line <= n_lines, (diag, text)
            assert diag.column >= 1 and (diag.end_column is None or diag.end_column > diag.column)
            assert diag.message
        return
    assert model.ir.key()  # a model that builds is fully formed


@st.composite
def mangled(draw):
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 5))):
        text = _mutate(draw, text)
    return text


def _mutate(draw, text: str) -> str:
    kind = draw(st.sampled_from(["del_char", "dup_char", "swap_chars", "insert", "del_token", "dup_token", "swap_tokens"]))
    if not text:
        return draw(st.sampled_from(INTERESTING))
    if kind.endswith("char") or kind == "swap_chars" or kind == "insert":
        i = draw(st.integers(0, len(text) - 1))
        if kind == "del_char":
            return text[:i] + text[i + 1 :]
        if kind == "dup_char":
            return text[: i + 1] + text[i:]
        if kind == "swap_chars":
            j = draw(st.integers(0, len(text) - 1))
            chars = list(text)
            chars[i], chars[j] = chars[j], chars[i]
            return "".join(chars)
        return text[:i] + draw(st.sampled_from(INTERESTING)) + text[i:]
    spans = [m.span() for m in TOKEN.finditer(text)]
    a, b = spans[draw(st.integers(0, len(spans) - 1))]
    if kind == "del_token":
        return text[:a] + text[b:]
    if kind == "dup_token":
        return text[:b] + " " + text[a:b] + text[b:]
    c, d = spans[draw(st.integers(0, len(spans) - 1))]
    if (a, b) > (c, d):
        (a, b), (c, d) = (c, d), (a, b)
    if b > c:
        return text
    return text[:a] + text[c:d] + text[b:c] + text[a:b] + text[d:]


@SETTINGS
@given(mangled())
def test_mangled_shared_models_give_a_model_or_a_located_error(text):
    _check(text)


@SETTINGS
@given(st.lists(st.sampled_from(INTERESTING + ["a", "b", "t", "cp", " ~ add(s)", " = "]), max_size=60))
def test_random_token_soup_gives_a_model_or_a_located_error(pieces):
    _check("[ini]\ns = 1\n[model]\n" + "".join(pieces))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_unicode_text_gives_a_located_error(text):
    _check(text)


def test_unmodified_shared_models_build():
    for text in TEXTS:
        _check(text)
        Model(text)
