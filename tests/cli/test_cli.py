"""The nlme-lab command line: help a new user can read, outputs, and one-line errors."""

import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import DATA, MODELS


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nlme_lab.cli.main", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_help_explains_the_commands():
    out = run("--help")
    assert out.returncode == 0
    for word in ("check", "simulate", "MODEL", "DATA", "example"):
        assert word in out.stdout
    sim_help = run("simulate", "--help").stdout
    for word in ("--n", "--seed", "--out", "REP", "PRED", "IPRED", "SIMDV"):
        assert word in sim_help


def test_check_reports_the_model_and_binds_the_data():
    out = run("check", MODELS / "pheno.nlm", DATA / "pheno.csv")
    assert out.returncode == 0, out.stderr
    assert "tvcl" in out.stdout and "WT" in out.stdout and "APGR" in out.stdout
    assert "59 subjects" in out.stdout and "155 observations" in out.stdout


def test_simulate_writes_one_row_per_record_and_replicate(tmp_path):
    target = tmp_path / "sim.csv"
    out = run("simulate", MODELS / "theo_sd.nlm", DATA / "theo_sd.csv", "--n", 3, "--seed", 7, "--out", target)
    assert out.returncode == 0, out.stderr
    table = pd.read_csv(target, na_values=".")
    source = pd.read_csv(DATA / "theo_sd.csv")
    assert len(table) == 3 * len(source)
    assert list(table.columns) == list(source.columns) + ["REP", "PRED", "IPRED", "SIMDV"]
    assert table.loc[table["EVID"] == 1, "SIMDV"].isna().all()
    assert table.loc[table["EVID"] == 0, "SIMDV"].notna().all()
    again = tmp_path / "again.csv"
    run("simulate", MODELS / "theo_sd.nlm", DATA / "theo_sd.csv", "--n", 3, "--seed", 7, "--out", again)
    assert again.read_text() == target.read_text()


@pytest.mark.parametrize("model_text,needle", [
    ("[ini]\ntcl = 1\nadd_sd = 1\n[model]\ncl = exq(tcl)\ncp = cl\ncp ~ add(add_sd)\n", "line 5"),
    ("[ini]\ntcl = 1\nadd_sd = 1\n[model]\ncl = tcl * WTT\ncp = cl * t\ncp ~ add(add_sd)\n", "WTT"),
])
def test_errors_are_one_line_with_a_location(tmp_path, model_text, needle):
    path = tmp_path / "bad.nlm"
    path.write_text(model_text)
    out = run("check", path, DATA / "theo_sd.csv")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()  # one line per problem (the second model also has dose rows)
    assert all(line.startswith("nlme-lab: error:") for line in lines)
    assert needle in lines[0]


def test_missing_file_is_a_one_line_error(tmp_path):
    out = run("simulate", tmp_path / "nope.nlm", DATA / "theo_sd.csv")
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1 and "nope.nlm" in out.stderr


def test_check_lists_every_problem_one_line_each(tmp_path):
    """Typos are errors where they are made, with "did you mean", and all of them are printed."""
    path = tmp_path / "typos.nlm"
    text = (MODELS / "theo_sd_ode.nlm").read_text()
    path.write_text(text.replace("- cl / v * center", "- cl / v * centrl").replace("eta_cl)", "eta_cll)"))
    out = run("check", path)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"nlme-lab: error: {path}:13:16: 'eta_cll' is not defined in the model; did you mean eta_cl?",
        f"nlme-lab: error: {path}:16:39: 'centrl' is not defined in the model; did you mean center?",
    ]


def test_check_with_data_lists_every_binding_problem(tmp_path):
    path = tmp_path / "one_cmt.nlm"
    path.write_text("[ini]\ntcl = 1\ntv = 3\nadd_sd = 1\n[model]\ncl = exp(tcl) * WGT\nv = exp(tv)\n"
                    "cp = linCmt()\ncp ~ add(add_sd)\n")
    out = run("check", path, DATA / "theo_sd.csv")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("nlme-lab: error: ") for line in lines)
    assert "'WGT' at line 6:17 is neither defined in the model nor a column of the dataset; did you mean WT?" in lines[0]
    assert "row 3, ID 1, column CMT: observation in compartment 2" in lines[1]
