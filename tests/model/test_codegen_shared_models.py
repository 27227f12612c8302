"""The models of ../shared/models, parsed by the resolver, through codegen.

The hand-built IRs of test_codegen_models.py must generate exactly the code the resolver's
IRs generate, so every check of test_codegen.py holds for the parsed models too.
"""

from __future__ import annotations


import numpy as np
import pytest

import test_codegen_models as M
from nlme_lab.model.codegen import compile_model, generate_source
from nlme_lab.model.ir import ErrorKind
from nlme_lab.model.resolver import resolve_text

from tests.conftest import MODELS as SHARED
HAND_BUILT = {
    "theo_sd": M.theo_sd, "theo_sd_ode": M.theo_sd_ode, "pheno": M.pheno, "warfarin_pkpd": M.warfarin_pkpd,
    "nmtest": M.nmtest, "wang2007_add": M.wang2007, "wang2007_prop": lambda: M.wang2007(ErrorKind.PROP),
}


def parsed(name: str):
    return resolve_text((SHARED / f"{name}.nlm").read_text()).ir


@pytest.mark.parametrize("name", sorted(HAND_BUILT))
def test_parsed_model_generates_the_code_of_the_hand_built_ir(name):
    assert generate_source(parsed(name)) == generate_source(HAND_BUILT[name]())


@pytest.mark.parametrize("name", sorted(p.stem for p in SHARED.glob("*.nlm")))
def test_every_shared_model_generates_code(name):
    ir = parsed(name)
    source = generate_source(ir)
    compile(source, name, "exec")  # valid Python
    assert all(f"def {fn}(" in source for fn in ("pk", "dpk", "rhs", "obs", "linsys", "dlinsys"))


def test_parsed_theophylline_runs():
    m = compile_model(parsed("theo_sd"))
    assert m.state_names == ("depot", "central") and m.lincmt.param_index == {"cl": 1, "v": 2, "ka": 0}
    p = np.array(list(m.evaluate_pk([np.log(1.57), np.log(2.72), np.log(31.5), 0.7], [0, 0, 0]).values()))
    np.testing.assert_allclose(p, [1.57, 2.72, 31.5], rtol=1e-14)
