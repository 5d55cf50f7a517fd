# facematch: `make dev` runs the platform, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8000
WORKERS ?= 2
SELFIE_WORKERS ?= 8
RUNS ?= 20
USERS ?= 300
SPAWN ?= 10
DURATION ?= 5m
PHOTOS ?= 1000
TARGET ?=
BIG ?= 3
SOAK_USERS ?= 100
SOAK_DURATION ?= 30m
PYTEST_ARGS ?=

# uv manages the environment; it is installed into the user's site if missing.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
VENV_STAMP := .venv/.synced
ENSURE_UV = @$(UV) --version >/dev/null 2>&1 || python3 -m pip install --user --quiet uv \
	|| python3 -m pip install --user --quiet --break-system-packages uv \
	|| { echo "cannot install uv: install python3-pip first (apt-get install python3-pip)"; exit 1; }
RUN_STAMP := .venv/.synced-run

.PHONY: help install dev test chromium lint format bench bench-mail bench-scale bench-selfies loadtest soak chaos requirements images cluster-smoke clean

help:  ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml uv.lock
	$(ENSURE_UV)
	$(UV) sync --frozen --all-extras
	@touch $@

# What running needs: the API, the worker extra and the embedded services, no test or
# load-test tools. --inexact keeps what `make test` installed.
$(RUN_STAMP): pyproject.toml uv.lock
	$(ENSURE_UV)
	$(UV) sync --frozen --inexact --no-default-groups --extra worker --extra local
	@touch $@

install: $(VENV_STAMP)  ## Install everything into .venv (uv sync)

dev: $(RUN_STAMP)  ## Run Postgres, Valkey, the API and WORKERS workers on PORT (Ctrl-C stops all)
	PORT=$(PORT) WORKERS=$(WORKERS) $(UV) run --frozen --no-sync facematch-dev up

test: $(VENV_STAMP)  ## Run the whole test suite against embedded Postgres and Valkey
	$(UV) run --frozen pytest $(PYTEST_ARGS)

chromium:  ## Install Debian's Chromium for the browser tests (root or sudo; they skip without it)
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version 2>/dev/null)"; exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "chromium: not installed, and no root or sudo to install it: the browser tests will skip"; exit 1; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	$$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core \
	  || { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; }

lint: $(VENV_STAMP)  ## ruff and mypy
	$(UV) run --frozen ruff check core api workers devtools tests loadtest k8s
	$(UV) run --frozen ruff format --check core api workers devtools tests loadtest k8s
	$(UV) run --frozen mypy core api workers devtools

format: $(VENV_STAMP)  ## Apply ruff's fixes and formatting
	$(UV) run --frozen ruff check --fix core api workers devtools tests loadtest k8s
	$(UV) run --frozen ruff format core api workers devtools tests loadtest k8s

bench: $(VENV_STAMP)  ## The encoder against dlib, bib reading on 150 race photos, the watermark's cost on 24 MP crowds, a 50 MB zip on a phone in Chromium, a 24 MP crowd's profile, face-engine benchmarks, look-alike precision, live-selfie spoofs, worst-image RSS, the API's edges, then selfie latency
	OMP_NUM_THREADS=1 $(UV) run --frozen python -m loadtest.bench_encoder --json loadtest/results/encoder.json
	OMP_NUM_THREADS=1 $(UV) run --frozen python -m loadtest.bench_bibs --photos 150 --seed 7 --json loadtest/results/bibs.json
	OMP_NUM_THREADS=1 $(UV) run --frozen python -m loadtest.bench_watermark --json loadtest/results/watermark.json
	OMP_NUM_THREADS=1 $(UV) run --frozen python -m loadtest.bench_watermark --faces 80-120 --json loadtest/results/watermark_dense.json
	$(UV) run --frozen python -m loadtest.bench_zip_memory --mb 50
	$(UV) run --frozen python -m loadtest.profile_photo --json loadtest/results/profile.json
	$(UV) run --frozen python loadtest/bench_engine.py all --big $(BIG)
	$(UV) run --frozen python -m loadtest.bench_precision
	OMP_NUM_THREADS=1 $(UV) run --frozen python -m loadtest.bench_liveness --json loadtest/results/liveness.json
	OMP_NUM_THREADS=1 $(UV) run --frozen python -m loadtest.bench_decode --json loadtest/results/decode.json
	$(UV) run --frozen python -m loadtest.bench_edges --json loadtest/results/edges.json
	$(UV) run --frozen python -m loadtest.bench --runs $(RUNS) --workers $(WORKERS)

loadtest: $(VENV_STAMP)  ## Locust headless: USERS SPAWN DURATION WORKERS PHOTOS, local stack or TARGET=url
	$(UV) run --frozen python -m loadtest.run --users $(USERS) --spawn-rate $(SPAWN) \
		--duration $(DURATION) --workers $(WORKERS) --photos $(PHOTOS) $(if $(TARGET),--target $(TARGET))

soak: $(VENV_STAMP)  ## SOAK_USERS attendees coming and going for SOAK_DURATION: no 5xx, RSS growth < 10%
	$(UV) run --frozen python -m loadtest.run --users $(SOAK_USERS) --spawn-rate 1 \
		--duration $(SOAK_DURATION) --workers $(WORKERS) --photos 100000 --photo-interval 12 \
		--attendee-visits 18 --max-rss-growth 10

bench-scale: $(VENV_STAMP)  ## Matching at marathon scale: 20 k, 200 k and 1 M synthetic faces; bib search on 100 k photos; a 5,000-photo upload cut and resumed (minutes; not in make test)
	$(UV) run --frozen python -m loadtest.bench_scale
	$(UV) run --frozen python -m loadtest.bench_bib_search
	$(UV) run --frozen python -m loadtest.bench_upload

bench-mail: $(VENV_STAMP)  ## Digest mails for 1,000 and 10,000 attendees drained by 2 workers, SMTP at 0 and 150 ms (minutes)
	$(UV) run --frozen python -m loadtest.bench_mail

bench-selfies: $(VENV_STAMP)  ## What the live check adds to a verdict; then SELFIE_WORKERS (8) on a 200 k-face event
	OMP_NUM_THREADS=1 $(UV) run --frozen python -m loadtest.bench_liveness --latency
	$(UV) run --frozen python -m loadtest.bench_selfies --workers $(SELFIE_WORKERS)

chaos: $(VENV_STAMP)  ## Faults on a local stack: workers SIGKILLed, Valkey and PostgreSQL restarted (minutes)
	$(UV) run --frozen python -m loadtest.chaos

requirements: $(VENV_STAMP)  ## Re-export the images' pinned requirements from uv.lock
	$(UV) export --frozen --no-dev --no-hashes --no-emit-project --no-header -q -o api/requirements.txt
	$(UV) export --frozen --no-dev --no-hashes --no-emit-project --no-header --extra worker -q -o workers/requirements.txt

images: requirements  ## Build the api and worker images with podman (wheels fetched here, builds offline)
	python3 -m pip download --quiet --only-binary=:all: --no-deps -d .wheels \
		-r api/requirements.txt -r workers/requirements.txt
	podman build -f api/Containerfile -t localhost/facematch-api:dev $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) .
	podman build -f workers/Containerfile -t localhost/facematch-worker:dev $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) .

cluster-smoke: $(VENV_STAMP)  ## Chart Deployments in podman under their limits, driven end to end (root, minutes)
	$(UV) run --frozen python -m k8s.smoke

clean:  ## Remove the environment and local data
	rm -rf .venv .data .pytest_cache .mypy_cache .ruff_cache
