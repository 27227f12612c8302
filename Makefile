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

# The widget front ends: js/src/*.js bundled by esbuild into nlme_lab/widgets/static/ (package
# data; a build product, not committed). Built before the Python install; needs node and npm.
JS_BUNDLE := $(patsubst js/src/%.js,nlme_lab/widgets/static/%.js,$(wildcard js/src/*.js))
JS_SOURCES := $(shell find js/src -name '*.js' 2>/dev/null) js/build.mjs js/package.json
JS_DEPS := js/node_modules/.package-lock.json

$(JS_DEPS): js/package.json js/package-lock.json
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
	  echo "error: node and npm are needed to build the widget front ends in js/" >&2; \
	  echo "       (Node.js 18 or later; on Debian: apt-get install -y nodejs npm), then run make again" >&2; \
	  exit 1; }
	cd js && npm ci --no-audit --no-fund
	touch $@

$(JS_BUNDLE) &: $(JS_DEPS) $(JS_SOURCES)
	cd js && npm run build

js: $(JS_BUNDLE)

# Debian's chromium for the browser tests in tests/ui (no browser download is possible; needs
# root, as CI has). Without it those tests skip.
browser:
	@command -v chromium >/dev/null 2>&1 || \
	  (DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || \
	  echo "warning: chromium is missing and could not be installed: the browser tests (tests/ui) will skip" >&2

$(STAMP): pyproject.toml | $(JS_BUNDLE)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[jupyter,test,bayes]"
	touch $(STAMP)

venv: $(STAMP) $(JS_BUNDLE)

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
	rm -rf js/node_modules nlme_lab/widgets/static
