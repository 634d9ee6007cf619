# Two commands for a fresh machine:
#   make run    installs the app into .venv and serves it on http://localhost:8501
#   make test   installs the app and the test tools, makes sure a Chromium exists, runs the tests
#               (all but the long end-to-end runs marked slow: make test-slow runs those; CI runs both)
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# The MNIST files that training (the Train page, fine-tuning) and the tests read: $MNIST_DIR, else
# the copy beside the checkout when there is one. Without either, the app reads data/mnist, which
# the Train page's Get MNIST fills (python -m model.data.mnist --download from a terminal).
MNIST_DIR ?= $(if $(wildcard ../shared/mnist/train-images-idx3-ubyte.gz),$(abspath ../shared/mnist))
export MNIST_DIR

.PHONY: run test test-slow chromium clean js js-check vendor

run: $(VENV)/.app-installed
	$(VENV)/bin/streamlit run app.py

test: $(VENV)/.dev-installed chromium
	$(PY) -m pytest -m "not slow"

test-slow: $(VENV)/.dev-installed chromium
	$(PY) -m pytest -m slow

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.app-installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.app-installed

# Browser tests need a Chromium: Debian's package where apt is available (Playwright's own
# browser download is blocked on offline machines), else Playwright's download.
chromium: $(VENV)/.dev-installed
	@if [ -n "$$CHROMIUM_PATH" ] && [ -x "$$CHROMIUM_PATH" ]; then echo "chromium: $$CHROMIUM_PATH"; \
	elif [ -x /usr/bin/chromium ]; then echo "chromium: /usr/bin/chromium"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || $(PY) -m playwright install chromium; \
	elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then \
		(sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null) || $(PY) -m playwright install chromium; \
	else $(PY) -m playwright install chromium; fi

# The JavaScript the app and its tests serve themselves (never from a CDN): pinned in package.json
# and package-lock.json, copied into assets/vendor/ with its licences, committed.
vendor:
	npm ci --no-audit --no-fund
	mkdir -p assets/vendor/axe-core
	cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE node_modules/axe-core/LICENSE-3RD-PARTY.txt assets/vendor/axe-core/

clean:
	rm -rf $(VENV) .pytest_cache

# The Draw page's live predictions run in the browser from static/live-<hash>/, which is
# committed (make run needs only Python). Rebuild it from package-lock.json and assets/ after
# changing either; CI checks the committed folder is what they build (docs/live-inference.md).
js:
	npm ci --no-audit --no-fund
	node assets/build_live.mjs

js-check:
	npm ci --no-audit --no-fund
	node assets/build_live.mjs --check

# Languages (README "Adding a language"): the catalog's template from the code, then a language.
#   make language-new LANGUAGE=it    starts locales/it/LC_MESSAGES/digitlab.po to translate
#   make language-check              brings every catalog up to the code and compiles each one,
#                                    with its statistics (the app compiles them itself when it runs)
PYBABEL := $(VENV)/bin/pybabel
locales/digitlab.pot: app.py pages/*.py babel.cfg
	$(PYBABEL) extract -F babel.cfg -k N_ --sort-output --project "Digit Lab" -o $@ .

.PHONY: language-new language-check locales/digitlab.pot
language-new: locales/digitlab.pot
	$(PYBABEL) init -i locales/digitlab.pot -d locales -D digitlab -l $(LANGUAGE)

language-check: locales/digitlab.pot
	$(PYBABEL) update -i locales/digitlab.pot -d locales -D digitlab --ignore-obsolete
	$(PYBABEL) compile -d locales -D digitlab --statistics -f
