# Two entry points for a fresh clone (see README):
#   make demo   create .venv, install everything, run the bundled theophylline example
#   make test   create/update .venv and run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT := out

.PHONY: demo test venv bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[jupyter,test]"
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	@mkdir -p $(OUT)
	$(VENV)/bin/nlme-lab check nlme_lab/examples/theo_sd.nlm nlme_lab/examples/theo_sd.csv
	$(VENV)/bin/nlme-lab simulate nlme_lab/examples/theo_sd.nlm nlme_lab/examples/theo_sd.csv \
		--n 100 --seed 1 --out $(OUT)/theo_sd_sim.csv

test: venv
	$(PY) -m pytest -q

bench: venv
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
