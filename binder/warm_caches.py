"""Compile the engine and every bundled model once, at image build time (binder/postBuild).

numba caches compiled code on disk (the engine beside its sources, models under
``~/.cache/nlme_lab``), and both are kept in the Binder image: a tutorial then loads compiled
code in about a second instead of compiling it for one to two minutes.
"""

import time

import nlme_lab as nl

# bundled model -> the bundled dataset it describes
MODELS = {
    "theo_sd.nlm": "theo_sd.csv",
    "warfarin_pk.nlm": "warfarin_pk.csv",
    "warfarin_pkpd.nlm": "warfarin.csv",
    "pheno.nlm": "pheno.csv",
    "wang2007_prop.nlm": "wang2007.csv",
    "wang2007_add.nlm": "wang2007.csv",
}


def main() -> None:
    for model_name, data_name in MODELS.items():
        t0 = time.perf_counter()
        model = nl.Model.from_file(nl.example_path(model_name))
        data = nl.read_nonmem(nl.example_path(data_name))
        model.compiled.compile_all()
        nl.simulate(model, data, n=1, seed=1)  # the engine's event and solver kernels
        print(f"warm_caches: {model_name} on {data_name} compiled in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()  # the estimation kernels: an all-fixed model is only evaluated
    wang = nl.Model.from_file(nl.example_path("wang2007_prop.nlm"))
    nl.fit(wang, nl.read_nonmem(nl.example_path("wang2007.csv")), "focei")
    print(f"warm_caches: estimation kernels in {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
