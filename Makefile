# The same targets for people and CI. `make run` is the main job; `make check` runs every test.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export SOURCEBOOK_HOME ?= $(CURDIR)/var

.PHONY: install system-deps run demo check lint types test gate bench clean

system-deps:  ## Tesseract (OCR), libmagic (type detection), chromium (browser tests) from Debian's packages
	@command -v tesseract >/dev/null && [ -e /usr/share/tesseract-ocr/5/tessdata/osd.traineddata ] \
	  && ldconfig -p | grep -q libmagic.so.1 && [ -x /usr/bin/chromium ] \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd libmagic1 chromium >/dev/null)

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: system-deps $(BIN)/python  ## torch (CPU build, from local disk) must come first
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c requirements.lock -e '.[dev,bench]'

run: install  ## the main job: ingest the samples, print a demo key, serve the API (:8000) and the app (:8501)
	$(BIN)/sourcebook up --host 127.0.0.1 --port 8000 --ui-port 8501

demo: install  ## ingest the sample collection and ask it one question
	$(BIN)/sourcebook ingest samples/acme-support --collection acme-support --team support
	$(BIN)/sourcebook documents --collection acme-support
	$(BIN)/sourcebook ask "What does error E-104 mean?" --collection acme-support

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types:
	$(BIN)/mypy

test:
	$(BIN)/pytest

# The regression gate: retrieval on SciFact dev, answers on the QA dev sets and the acme-support golden
# set, against eval/baseline.json.
# Indexes are cached in $(SOURCEBOOK_HOME)/eval-cache (cold: minutes; warm: about a minute).
# It runs before the tests so that the eval notebooks among them find the indexes ready.
gate:
	$(BIN)/sourcebook eval gate --out $(SOURCEBOOK_HOME)/eval/gate

check: install lint types gate test  ## what CI runs

# Every bench, each writing bench/results/ with its commit, settings and CPU flags (bench/provenance.py).
# Hours on 2 cores: latency builds a 100k-chunk collection, scale a 1M-chunk one (run it niced).
bench: install
	$(BIN)/python -m bench.ocr
	$(BIN)/python -m bench.pii
	$(BIN)/python -m bench.retrieval
	$(BIN)/python -m bench.evidence_fit --recollect
	$(BIN)/python -m bench.emanual_answers
	$(BIN)/python -m bench.late_chunking --reranker --latency
	$(BIN)/python -m bench.ingest_compare --corpus scifact
	$(BIN)/python -m bench.ingest_compare --corpus docling
	$(BIN)/python -m bench.ingest_tokens --time
	$(BIN)/python -m bench.workers --copies 8
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.operating
	$(BIN)/python -m bench.highlight
	$(BIN)/python -m bench.sentence_vectors
	$(BIN)/python -m bench.embed_levers
	$(BIN)/python -m bench.swap
	$(BIN)/python -m bench.tune scifact e1h0 e2h0 e1h1
	$(BIN)/python -m bench.tune scifact e1h0lr5e-5 --out tune-scifact-lr
	$(BIN)/python -m bench.tune scifact e1h1s3 e1h1-gist e1h0b128-cached-mnrl --out tune-scifact-negatives
	$(BIN)/python -m bench.tune scifact e1h3-cached-mnrl --out tune-scifact-cached
	$(BIN)/python -m bench.fusion_weights
	$(BIN)/python -m bench.bm25_length
	$(BIN)/python -m bench.fusion_learned minilm scifact-e1h3-cached-mnrl-1
	$(BIN)/python -m bench.tune acme e1h1
	$(BIN)/python -m bench.sentence_split
	nice -n 10 $(BIN)/python -m bench.scale

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
