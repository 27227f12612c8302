"""``nlme-lab design``: the FIM of a design JSON or a dataset, and optimal times, as JSON."""

import json
import subprocess
import sys

import pytest

import nlme_lab as nl

MODEL = nl.example_path("warfarin_design.nlm")
DESIGN = nl.example_path("warfarin_design.json")
KEYS = {"parameters", "fim", "det", "ln_det", "d_criterion", "se", "rse_percent", "condition_number", "null_space"}


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nlme_lab.cli.main", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_design_json_reproduces_poped(tmp_path):
    out = tmp_path / "fim.json"
    r = run("design", MODEL, DESIGN, "--scale", "variance", "--json", out)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert KEYS <= set(d)
    assert d["det"] == pytest.approx(5.996147e22, rel=1e-4)
    assert round(d["rse_percent"]["tka"], 1) == 13.9 and d["null_space"] == []
    assert len(d["fim"]) == 7 and d["parameters"][0] == "tcl"
    assert "tka" in r.stdout and "ln det" in r.stdout


def test_dataset_design_full_and_singular(tmp_path):
    data = tmp_path / "one.csv"
    frame = nl.Design.single(doses=[nl.Dose(70)], times=[6.0], size=5).to_data()
    frame.to_csv(data, index=False)
    out = tmp_path / "fim.json"
    r = run("design", MODEL, data, "--json", out)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert {"tcl", "tv", "tka"} <= set(d["null_space"]) and d["rse_percent"]["tcl"] is None
    assert "singular" in r.stdout


def test_optimize_adds_times_and_efficiency(tmp_path):
    out = tmp_path / "opt.json"
    r = run("design", MODEL, DESIGN, "--optimize", "--n-samples", "3", "--windows", "0:120", "--json", out)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert [round(t, 1) for t in d["optimal_times"]["A"]] == pytest.approx([1.7, 3.8, 120.0], abs=0.15)
    assert 0.45 < d["efficiency"] < 0.53


def test_bad_windows_is_one_line():
    r = run("design", MODEL, DESIGN, "--optimize", "--windows", "0-120")
    assert r.returncode == 1 and "--windows" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_ds_needs_its_parameters_in_one_line():
    r = run("design", MODEL, DESIGN, "--optimize", "--criterion", "Ds")
    assert r.returncode == 1 and "ds_parameters" in r.stderr and len(r.stderr.strip().splitlines()) == 1
