# Two commands: `make run` (the demo episode through the whole pipeline) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install system models demo lint bench clean validators

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# The CPU build of torch: a plain `torch` requirement would pull multi-GB CUDA wheels.
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

system:
	./scripts/system-deps.sh

models: install
	$(BIN)/diptych models install base

demo: install system
	$(BIN)/python -m pipeline.demo --root . --into-inbox

run: install system models demo
	$(BIN)/diptych run --approve
	@$(BIN)/diptych status
	@$(BIN)/python -m pipeline.demo --root . --summary

# The validators the tests run (podcast-partytime, axe-core, vnu-jar), pinned by their lockfile.
# No install scripts: vnu-jar's would download a Java runtime; Debian's is used instead.
VALIDATORS := tests/validators
$(VALIDATORS)/node_modules/.diptych-lock: $(VALIDATORS)/package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --prefix $(VALIDATORS)
	cp $< $@

validators: $(VALIDATORS)/node_modules/.diptych-lock

test: install models
	./scripts/system-deps.sh --test
	$(MAKE) --no-print-directory validators
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check pipeline flows tests benchmarks
	$(BIN)/mypy pipeline flows

bench: install models
	$(BIN)/python benchmarks/audio.py
	$(BIN)/python benchmarks/transcribe.py
	$(BIN)/python benchmarks/pairing.py
	$(BIN)/python benchmarks/review.py
	$(BIN)/python benchmarks/publish.py

clean:
	rm -rf $(VENV) output/episodes output/site output/.diptych
