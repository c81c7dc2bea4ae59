# Two commands for a newcomer:  `make run`  and  `make test`.
# Both install what they need (Debian packages when run as root, Python
# packages from the lock files into .venv, npm packages from package-lock.json).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
export SPADOK_NODE_MODULES := $(CURDIR)/node_modules

.PHONY: run test setup setup-dev apt apt-test lint typecheck unit pg-tests browser-tests bench lock clean

run: setup
	$(BIN)/spadok serve

test: setup-dev lint
	$(BIN)/pytest -q -p no:cacheprovider -n 2
	scripts/with-postgres $(BIN)/pytest -q -p no:cacheprovider -n 2 -m db_both

# --- installation ---------------------------------------------------------

apt:
	@scripts/apt-install scripts/apt-runtime.txt

apt-test: apt
	@scripts/apt-install scripts/apt-test.txt

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.runtime: $(BIN)/uv requirements.lock pyproject.toml
	$(BIN)/uv pip install -q --python $(BIN)/python --require-hashes -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --require-hashes -r requirements-dev.lock
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Uppy is ESM-only: one esbuild run bundles the upload page's script and CSS
# (src/spadok/site/static_src/upload.js) into build/, which is not committed.
UPLOAD_BUNDLE := build/static/uploads/upload.js
$(UPLOAD_BUNDLE): node_modules/.installed src/spadok/site/static_src/upload.js
	node_modules/.bin/esbuild src/spadok/site/static_src/upload.js --bundle --minify \
	  --format=esm --target=es2020 --log-level=warning --outdir=build/static/uploads

setup: apt $(VENV)/.runtime node_modules/.installed $(UPLOAD_BUNDLE)

setup-dev: apt-test setup $(VENV)/.dev

# --- checks ---------------------------------------------------------------

lint: setup-dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

unit: setup-dev
	$(BIN)/pytest -q -n 2 -m "not browser"

browser-tests: setup-dev
	$(BIN)/pytest -q -n 2 -m browser

pg-tests: setup-dev
	scripts/with-postgres $(BIN)/pytest -q -n 2 -m db_both

bench: setup-dev
	$(BIN)/python -m bench

# Re-pin the Python dependencies after editing requirements*.in.
lock: $(BIN)/uv
	$(BIN)/uv pip compile -q --generate-hashes --python-version 3.11 requirements.in -o requirements.lock
	$(BIN)/uv pip compile -q --generate-hashes --python-version 3.11 requirements-dev.in -o requirements-dev.lock

clean:
	rm -rf $(VENV) node_modules var
