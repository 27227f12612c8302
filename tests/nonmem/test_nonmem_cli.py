"""nlme-lab import-nonmem / export-nonmem: files written, JSON, one-line errors."""

import json
import subprocess
import sys

import nlme_lab as nl

from tests.conftest import DATA, MODELS
from tests.nonmem.conftest import STREAMS


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nlme_lab.cli.main", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_help_lists_the_nonmem_commands():
    out = run("--help")
    assert out.returncode == 0 and "import-nonmem" in out.stdout and "export-nonmem" in out.stdout
    assert "--data" in run("export-nonmem", "--help").stdout


def test_import_writes_the_model_and_json(tmp_path):
    target, summary = tmp_path / "pheno.nlm", tmp_path / "pheno.json"
    out = run("import-nonmem", STREAMS / "pheno_apgar.mod", "--out", target, "--json", summary)
    assert out.returncode == 0, out.stderr
    model = nl.Model.from_file(target)
    assert [t.name for t in model.thetas] == ["theta1", "theta2", "theta3", "prop_sd"]
    assert "method: focei; covariance: sandwich" in out.stdout and "note: line 32 ($TABLE)" in out.stdout
    payload = json.loads(summary.read_text())
    assert payload["method"] == "focei" and payload["data"] == str(DATA / "pheno.csv")
    assert payload["model_text"] == model.text and payload["notes"]


def test_export_writes_a_control_stream_that_imports_back(tmp_path):
    target = tmp_path / "run2.mod"
    out = run("export-nonmem", MODELS / "warfarin_pk.nlm", "--data", DATA / "warfarin_pk.csv", "--method", "foce",
              "--covariance", "none", "--out", target)
    assert out.returncode == 0, out.stderr
    text = target.read_text()
    assert "$ESTIMATION METHOD=1 MAXEVAL=9999" in text and "$COVARIANCE" not in text
    assert nl.from_nonmem(target).spec.method == "foce"
    printed = run("export-nonmem", MODELS / "warfarin_pk.nlm", "--data", DATA / "warfarin_pk.csv")
    assert printed.stdout.startswith("$PROBLEM warfarin_pk")


def test_errors_are_one_line_naming_the_record_and_line(tmp_path):
    bad = tmp_path / "bad.mod"
    bad.write_text((STREAMS / "pheno_apgar.mod").read_text().replace("$SUBROUTINE ADVAN1 TRANS2",
                                                                    "$SUBROUTINE ADVAN5"))
    out = run("import-nonmem", bad)
    assert out.returncode == 1
    assert out.stderr.strip() == (f"nlme-lab: error: {bad} line 4 ($SUBROUTINES): ADVAN5 is not supported "
                                  "(supported: ADVAN1-4, 11, 12 and ODEs with ADVAN6/8/13/14)")
    out = run("export-nonmem", MODELS / "theo_sd.nlm", "--data", tmp_path / "none.csv")
    assert out.returncode == 1 and "no such file" in out.stderr
