# The documented commands. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install test check lint typecheck unit integration format clean synth deploy infra
.PHONY: dev demo e2e browser browser-deps translations frontend-text screenshots lock audit
.PHONY: openapi bench

# The whole dependency tree, locked with hashes (docs/deploy.md, Dependencies): runtime.txt
# is what the Lambda asset ships, dev.txt everything the checks and tests need besides.
RUNTIME_LOCK := requirements/runtime.txt
DEV_LOCK := requirements/dev.txt
# One lock for every platform and Python from 3.11 (this machine) to 3.13 (the Lambda),
# with the hashes of every wheel of each pinned version. LOCK_ARGS=--upgrade moves the pins.
LOCK_FLAGS = --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command "make lock" $(LOCK_ARGS)

# Everything from the dev lock, hashes required (pip and setuptools included), then the
# project itself: no dependency resolution and no build outside the lock.
$(STAMP): $(DEV_LOCK) pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP) browser-deps

# Both locks again from pyproject.toml, after adding or changing a dependency there.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -o $(RUNTIME_LOCK)
	$(BIN)/uv pip compile pyproject.toml --extra dev -c $(RUNTIME_LOCK) $(LOCK_FLAGS) \
		-o $(DEV_LOCK)

# Known vulnerabilities (PyPI's advisory data) in every locked package; --strict: a package
# that could not be audited fails the run instead of passing unchecked.
audit: $(STAMP)
	$(BIN)/pip-audit --strict --disable-pip --progress-spinner off \
		-r $(RUNTIME_LOCK) -r $(DEV_LOCK)

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

infra: $(STAMP)
	$(BIN)/pytest tests/infra

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

# The browser tests alone (tests/browser/, headless Chromium against the local stack).
browser: $(STAMP) browser-deps
	$(BIN)/pytest -m browser tests/browser

# The screenshots in docs/images/ (docs/frontend.md), taken afresh by the browser tests.
screenshots: $(STAMP) browser-deps
	CALLPAY_SCREENSHOTS=$(CURDIR)/docs/images $(BIN)/pytest -m browser tests/browser

# What the browser tests need besides .venv: Debian's Chromium (Playwright's own browser
# download cannot work here), installed with apt once, and node_modules (axe-core).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	@echo "» installing Chromium with apt for the browser tests (once; a few minutes)"
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# Fonts for every script the pay page speaks (Arabic, Hebrew, Ethiopic, Khmer, Lao, Myanmar,
# Bengali, Devanagari, Georgian, Thai... and Chinese, Japanese, Korean), so Chromium draws
# letters rather than boxes in the browser tests and their screenshots. Debian's Noto.
NOTO_FONTS := /usr/share/fonts/truetype/noto/NotoSansEthiopic-Regular.ttf \
	/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

$(NOTO_FONTS) &:
	@echo "» installing Noto fonts with apt for the browser tests (once)"
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-noto-core fonts-noto-cjk

browser-deps: $(CHROMIUM) $(NOTO_FONTS) node_modules/.package-lock.json

# The receipts' words (docs/translations.md), with Babel's own tools: extract the messages of
# the code and templates into the template (.pot), merge it into every locale's .po (a changed
# message keeps its old translation as fuzzy, which is not compiled), compile the .mo files
# that ship, then count what is translated and what no person has reviewed yet. pybabel
# stamps the .pot with the time: it is replaced only when a message changed.
RECEIPTS := functions/callpay/receipts
RECEIPT_CATALOGS := $(RECEIPTS)/translations
RECEIPT_TEMPLATE := $(RECEIPT_CATALOGS)/receipts.pot

translations: $(STAMP)
	$(BIN)/pybabel extract --mapping-file=babel.cfg --output-file=$(RECEIPT_TEMPLATE).new \
		--add-comments=TRANSLATORS: --strip-comment-tags --add-location=file --sort-output \
		--width=100 --project=callpay \
		--header-comment="# The receipts' words to translate (docs/translations.md)." $(RECEIPTS)
	if [ -f $(RECEIPT_TEMPLATE) ] && diff -q -I '^"POT-Creation-Date: ' \
		$(RECEIPT_TEMPLATE) $(RECEIPT_TEMPLATE).new >/dev/null; \
	then rm $(RECEIPT_TEMPLATE).new; else mv $(RECEIPT_TEMPLATE).new $(RECEIPT_TEMPLATE); fi
	$(BIN)/pybabel update --input-file=$(RECEIPT_TEMPLATE) --output-dir=$(RECEIPT_CATALOGS) \
		--domain=receipts --previous --ignore-obsolete --width=100
	$(BIN)/pybabel compile --directory=$(RECEIPT_CATALOGS) --domain=receipts --statistics
	$(BIN)/python -m devtools.translations

# The panels' words: extract frontend/*.js into frontend/locales/frontend.pot, merge it
# into each locale's .po, compile them to frontend/i18n/*.json (docs/frontend.md, "Text").
frontend-text: $(STAMP)
	$(BIN)/python -m devtools.frontend_text extract update compile check

# The contract, regenerated from the code: docs/openapi.json (and the copy api_contract
# serves) and docs/asyncapi.yaml. The unit tests fail while a committed one differs.
openapi: $(STAMP)
	$(BIN)/python -m devtools.openapi
	$(BIN)/python -m devtools.asyncapi

# The whole stack on this machine, in the foreground (docs/local-development.md).
dev: $(STAMP)
	$(BIN)/callpay dev

# A consultation played end to end on a fresh local stack; exit 0 only if every step happened.
demo: $(STAMP)
	$(BIN)/callpay demo

# The CloudFormation template in cdk.out/, offline and with no AWS credentials.
synth: $(STAMP)
	rm -rf cdk.out
	$(BIN)/python -m infra.app
	@echo "wrote cdk.out/ ($$(ls cdk.out/*.template.json))"

# The pinned node tools (package.json): the CDK CLI and axe-core.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The pinned CDK CLI; pass context as CDK_ARGS (docs/deploy.md).
deploy: $(STAMP) node_modules/.package-lock.json
	npx --no-install cdk deploy --all $(CDK_ARGS)

# The benchmark environment: the runtime lock alone, as the Lambda asset holds it (the dev
# extras change import costs: with aiohttp installed, `import stripe` imports it too).
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): $(RUNTIME_LOCK)
	test -d $(BENCH_VENV) || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --require-hashes -r $(RUNTIME_LOCK)
	touch $(BENCH_STAMP)

# Every hot path side by side with its naive sample and its floor, on a local stack of its
# own (docs/performance.md): a report in bench/results/ and a summary. Long; not in `test`.
bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --python $(CURDIR)/$(BENCH_VENV)/bin/python $(BENCH_ARGS)

test: check browser-deps
	$(BIN)/pytest
	$(BIN)/callpay demo

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache
