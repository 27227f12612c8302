"""Command-line arguments are checked before any work (issue 16, item 8): counts and seeds out of
range, output paths that cannot be written and simulations too large for memory are one-line
errors naming the option; the help tells every method; a long fit shows its progress on stderr
and leaves stdout to the results."""

import io
import json
import subprocess
import sys

import pytest

from nlme_lab.cli import progress as progress_module
from nlme_lab.cli.main import build_parser, main
from tests.conftest import DATA, MODELS

THEO = (str(MODELS / "theo_sd.nlm"), str(DATA / "theo_sd.csv"))


@pytest.mark.parametrize("argv, words", [
    (["fit", *THEO, "--method", "nuts", "--chains", "0"], "argument --chains: must be at least 1 (a count), got 0"),
    (["fit", *THEO, "--method", "nuts", "--draws", "-5"], "argument --draws: must be at least 1 (a count), got -5"),
    (["fit", *THEO, "--method", "nuts", "--tune", "-1"], "argument --tune: must be at least 0"),
    (["fit", *THEO, "--seed", "-1"], "argument --seed: must be at least 0 (a seed is a non-negative integer), got -1"),
    (["fit", *THEO, "--seed", "x"], "argument --seed: 'x' is not a whole number"),
    (["simulate", *THEO, "--n", "0"], "argument --n: must be at least 1 (a count), got 0"),
    (["report", *THEO, "--n-vpc", "0"], "argument --n-vpc: must be at least 1 (a count), got 0"),
])
def test_counts_and_seeds_out_of_range_are_usage_errors(argv, words, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


@pytest.mark.parametrize("argv, words", [
    (["fit", *THEO, "--json", "{dir}"], "--json {dir}: is a folder; give a file name (e.g. {dir}/fit.json)"),
    (["report", *THEO, "--out", "{dir}"], "--out {dir}: is a folder; give a file name (e.g. {dir}/report.html)"),
    (["report", *THEO, "--json", "{dir}/no/such/fit.json"], "--json {dir}/no/such/fit.json: the folder {dir}/no/such "
                                                            "does not exist"),
    (["simulate", *THEO, "--out", "{dir}"], "--out {dir}: is a folder"),
])
def test_output_paths_are_checked_before_the_work(argv, words, tmp_path, capsys):
    argv = [a.replace("{dir}", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert words.replace("{dir}", str(tmp_path)) in err
    assert "iteration" not in err and "compiling" not in err  # refused before any fit or compile


def test_a_simulation_too_large_for_memory_is_refused_with_the_size(capsys):
    assert main(["simulate", *THEO, "--n", "100000000"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("nlme-lab: error: --n 100000000: 100000000 replicates of 144 records")
    assert "GiB of memory" in err and "use --n " in err and "or fewer" in err


def test_help_names_every_method_and_repeats_no_example():
    fit_help = " ".join(build_parser()._subparsers._group_actions[0].choices["fit"].format_help().split())
    assert "FO, FOCE, FOCEI or Laplace (maximum likelihood), SAEM (stochastic approximation EM) or NUTS" in fit_help
    main_help = build_parser().format_help()
    examples = [line for line in main_help.splitlines() if line.strip().startswith("nlme-lab ")]
    assert len(examples) == len(set(examples)) >= 4


def test_a_fit_writes_progress_to_stderr_and_only_results_to_stdout(tmp_path):
    target = tmp_path / "fit.json"
    out = subprocess.run([sys.executable, "-m", "nlme_lab.cli.main", "fit", *THEO, "--json", str(target)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "FOCEI iteration   0  OFV " in out.stderr and "\r" not in out.stderr  # plain lines off a terminal
    assert not any(" iteration " in line for line in out.stdout.splitlines()) and out.stdout.startswith("FOCEI")
    assert json.loads(target.read_text())["termination"] == "converged"


def test_plain_progress_is_thinned_and_ends_with_the_last_iteration():
    from nlme_lab.estimation import IterationEvent, MethodKind

    now = [0.0]
    stream = io.StringIO()
    progress = progress_module.Progress(stream, rewrite=False, clock=lambda: now[0])
    for k, t in enumerate((0.5, 1.0, 2.5, 3.0, 3.1)):  # the first, then one >= 2 s later, then the last at close
        now[0] = t
        progress(IterationEvent(k, 100.0 - k, {}, 0.5, 10 * k, 0.1 * k, MethodKind.FOCEI))
    progress.close()
    lines = stream.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["0", "2", "4"]


def test_silence_is_broken_by_a_heartbeat(monkeypatch):
    from nlme_lab.estimation import IterationEvent, MethodKind
    from nlme_lab.estimation.results import ObjectiveKind

    monkeypatch.setattr(progress_module, "HEARTBEAT_S", 0.2)
    stream = io.StringIO()
    progress = progress_module.Progress(stream, rewrite=False, heartbeat=True)
    progress(IterationEvent(3, 12.5, {}, float("nan"), 1, 0.1, MethodKind.SAEM, ObjectiveKind.COMPLETE_DATA))
    import time

    time.sleep(1.5)
    progress.close()
    text = stream.getvalue()
    assert "SAEM iteration   3  -2LL(complete data) 12.5000  0.1 s" in text and "gradient" not in text
    assert "... still working, " in text and "(last: SAEM iteration 3)" in text
