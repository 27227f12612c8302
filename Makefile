# Two entry points for a fresh clone (see README):
#   make demo   create .venv, install everything, check, simulate and fit (FOCEI) the bundled
#               theophylline example (outputs in out/)
#   make test   create/update .venv and run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT := out

.PHONY: demo test venv bench clean js browser clean-js

# The front ends (build products, not committed; built before the Python install; need node and
# npm): the widgets' js/src/*.js bundled by esbuild into nlme_lab/widgets/static/ (package data),
# and the JupyterLab extension js/src/labextension/ built by @jupyter/builder into
# nlme_lab/labextension/ (a wheel's data files; the editable install below links it instead).
JS_BUNDLE := $(patsubst js/src/%.js,nlme_lab/widgets/static/%.js,$(wildcard js/src/*.js))
JS_SOURCES := $(shell find js/src -type f 2>/dev/null) js/build.mjs js/package.json
JS_DEPS := js/node_modules/.package-lock.json
LABEXT := nlme_lab/labextension/package.json
LABEXT_LINKED := $(VENV)/.labextension-linked

$(JS_DEPS): js/package.json js/package-lock.json
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
	  echo "error: node and npm are needed to build the widget front ends in js/" >&2; \
	  echo "       (Node.js 20.19 or later; on Debian 13: apt-get install -y nodejs npm), then run make again" >&2; \
	  exit 1; }
	cd js && npm ci --no-audit --no-fund
	touch $@

$(JS_BUNDLE) &: $(JS_DEPS) $(JS_SOURCES)
	cd js && npm run build:widgets

$(LABEXT): $(JS_DEPS) $(JS_SOURCES) js/labextension.rspack.cjs
	cd js && npm run build:labextension

js: $(JS_BUNDLE) $(LABEXT)

# Debian's chromium for the browser tests in tests/ui (no browser download is possible; needs
# root, as CI has). Without it those tests skip.
browser:
	@command -v chromium >/dev/null 2>&1 || \
	  (DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || \
	  echo "warning: chromium is missing and could not be installed: the browser tests (tests/ui) will skip" >&2

$(STAMP): pyproject.toml | $(JS_BUNDLE) $(LABEXT)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[jupyter,test,bayes]"
	touch $(STAMP)

# An editable install has no data files: link the built extension into the venv (a rebuild then
# needs no reinstall; jupyter-builder comes with JupyterLab 4.6) and enable the server extension
# with the file a wheel installs.
$(LABEXT_LINKED): $(STAMP) nlme_lab/jupyter/config/nlme_lab.json
	$(VENV)/bin/jupyter-builder develop --overwrite .
	install -D -m 644 nlme_lab/jupyter/config/nlme_lab.json $(VENV)/etc/jupyter/jupyter_server_config.d/nlme_lab.json
	touch $@

venv: $(STAMP) $(JS_BUNDLE) $(LABEXT) $(LABEXT_LINKED)

demo: venv
	@mkdir -p $(OUT)
	$(VENV)/bin/nlme-lab check nlme_lab/examples/theo_sd.nlm nlme_lab/examples/theo_sd.csv
	$(VENV)/bin/nlme-lab simulate nlme_lab/examples/theo_sd.nlm nlme_lab/examples/theo_sd.csv \
		--n 100 --seed 1 --out $(OUT)/theo_sd_sim.csv
	$(VENV)/bin/nlme-lab report nlme_lab/examples/theo_sd.nlm nlme_lab/examples/theo_sd.csv \
		--method focei --json $(OUT)/theo_sd_fit.json --out $(OUT)/theo_sd_report.html

test: venv browser
	$(PY) -m pytest -q

bench: venv
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache

clean-js:
	rm -rf js/node_modules nlme_lab/widgets/static nlme_lab/labextension
