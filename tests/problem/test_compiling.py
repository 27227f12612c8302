"""The first use of the engine on a machine compiles it for minutes; the CLI and the Lab say so
before it starts (issue 15, item 9). Whether a compile is coming is read from numba's cache
files (``kernels/cache_guard.cached``); here on a cache folder of our own (NUMBA_CACHE_DIR)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import io, os, sys, time
    from pathlib import Path
    from nlme_lab.kernels import cache_guard
    from nlme_lab.problem import compiling

    mirror = cache_guard._cache_dirs()[-1]
    assert mirror.parent == Path(os.environ["NUMBA_CACHE_DIR"]) and mirror.name.startswith("kernels_")
    print("cold:", [g.name for g in compiling.pending("saem")], [g.name for g in compiling.pending(None)])
    print("notice:", compiling.notice("saem"))
    out = io.StringIO()
    first, second = compiling.announce("focei", stream=out), compiling.announce("focei", stream=out)
    print("announced once:", out.getvalue().count("nlme_lab: compiling"), repr(second))
    print("then saem adds:", compiling.announce("saem", stream=io.StringIO()))
    mirror.mkdir(parents=True)
    (mirror / cache_guard.STAMP_NAME).write_text(cache_guard.sources_hash())
    for group in compiling.GROUPS["saem"]:
        for m in group.modules:
            (mirror / f"{m}.kernel-1.py311.nbi").write_bytes(b"")
    print("warm:", [g.name for g in compiling.pending("saem")], repr(compiling.notice("saem")))
    old = time.time() - 10 * 365 * 86400  # an index older than its source: numba recompiles
    os.utime(mirror / "metropolis.kernel-1.py311.nbi", (old, old))
    print("stale:", [g.name for g in compiling.pending("saem")])
    (mirror / cache_guard.STAMP_NAME).write_text("another engine")
    print("other stamp:", [g.name for g in compiling.pending("focei")])
""")


def test_a_coming_compile_is_told_once_with_its_duration(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    assert lines["cold"] == "['the engine', 'the SAEM sampler'] ['the engine']"
    assert lines["notice"] == ("compiling the engine and the SAEM sampler (first use on this machine, about 35 s; "
                               "later runs load it from the cache in about a second)")
    assert lines["announced once"] == "1 ''"
    assert lines["then saem adds"].startswith("nlme_lab: compiling the SAEM sampler (first use on this machine, about")
    assert lines["warm"] == "[] ''"
    assert lines["stale"] == "['the SAEM sampler']"
    assert lines["other stamp"] == "['the engine', 'the FOCEI inner solve']"  # (inner_trial is an engine module)


def test_nothing_is_announced_once_a_closed_form_model_has_run(shared_models, shared_data):
    """After a closed-form simulation and FOCEI fit in this process (numba's cache written or
    loaded), no group of theirs is still pending: the announcement names only modules such a
    run compiles, or every later process would announce a compile that does not come."""
    import nlme_lab as nl
    from nlme_lab.kernels import cache_guard
    from nlme_lab.problem import compiling

    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    nl.simulate(model, data, seed=1)
    nl.fit(model, data, method="focei")
    assert compiling.pending(None) == ()
    assert compiling.pending("focei") == ()
    assert not cache_guard.cached("no_such_module")
