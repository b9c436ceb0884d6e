# The same targets for people and CI. `make demo` runs Sourcebook; `make check` runs every test.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export SOURCEBOOK_HOME ?= $(CURDIR)/var

.PHONY: install system-deps demo check lint types test bench clean

system-deps:  ## Tesseract (OCR) and libmagic (type detection) from Debian's packages
	@command -v tesseract >/dev/null && [ -e /usr/share/tesseract-ocr/5/tessdata/osd.traineddata ] \
	  && ldconfig -p | grep -q libmagic.so.1 \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd libmagic1 >/dev/null)

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: system-deps $(BIN)/python  ## torch (CPU build, from local disk) must come first
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c requirements.lock -e '.[dev,bench]'

demo: install  ## ingest the sample collection, then show what a search returns
	$(BIN)/sourcebook ingest samples/acme-support --collection acme-support
	$(BIN)/sourcebook documents --collection acme-support
	$(BIN)/sourcebook search "What does error E-104 mean?" --collection acme-support --limit 3

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types:
	$(BIN)/mypy

test:
	$(BIN)/pytest

check: install lint types test  ## what CI runs

bench: install
	$(BIN)/python -m bench.ocr

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
