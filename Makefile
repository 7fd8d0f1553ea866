# The project's two user-facing commands are `make demo` and `make test`.
# Both create (or reuse) the virtual environment and build (or reuse) the
# devcluster binaries, so they work from a fresh clone.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv test lint unit integration trainer e2e reliability crd crd-check devcluster-build demo clean

venv: $(STAMP)

# uv downloads and unpacks in parallel: a cold install (torch and its CUDA wheels, 6 GB)
# takes about half of pip's time. It verifies TLS against the system's certificates, as pip
# does here.
UV_VERSION := 0.13.8
UV         := UV_SYSTEM_CERTS=1 $(VENV)/bin/uv pip install -q --python $(PY)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel uv==$(UV_VERSION)
	$(UV) -e '.[operator,trainer,devcluster,cli,dev]'
	# DeepSpeed ships only an sdist that imports torch while building: build it
	# against the torch installed above, with no CUDA ops compiled.
	DS_BUILD_OPS=0 DS_SKIP_CUDA_CHECK=1 $(UV) --no-build-isolation deepspeed==0.19.8
	touch $(STAMP)

# The Go builds need only Python's standard library: `make test` runs them beside the
# install of the virtual environment.
devcluster-build:
	PYTHONPATH=devcluster $(PYTHON) -m sftjob_devcluster.prebuild

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Lint runs beside the Go builds once the virtual environment is installed (alone, mypy
# would leave a core idle). Then two pytest-xdist workers, each with its own devcluster:
# tests/conftest.py keeps a test file on one worker, every test with local-node processes
# on the same one. Kueue is built only for the tests that need it (their `kueue` fixture
# waits for the build's lock): build it meanwhile, at low priority, so that the tests run
# before them absorb its cold build.
test:
	$(MAKE) -j2 lint devcluster-build
	nice -n 19 $(VENV)/bin/sftjob-devcluster build --kueue > $(VENV)/kueue-build.log 2>&1 & \
	$(VENV)/bin/pytest -n 2 --durations=30 tests; status=$$?; wait; exit $$status

unit: venv
	$(VENV)/bin/pytest tests/unit

integration: venv devcluster-build
	$(VENV)/bin/pytest tests/integration

trainer: venv
	$(VENV)/bin/pytest tests/trainer

e2e: venv devcluster-build
	$(VENV)/bin/pytest tests/e2e

# The fault suite at full scale; its figures go to docs/reliability.md.
reliability: venv devcluster-build
	SFTJOB_RELIABILITY_SCALE=full $(VENV)/bin/pytest -m reliability tests/reliability

crd: venv
	$(PY) hack/gen_crd.py
	$(PY) hack/gen_argocd.py

crd-check: venv
	$(PY) hack/gen_crd.py --check
	$(PY) hack/gen_argocd.py --check

demo: venv devcluster-build
	$(PY) hack/demo.py

clean:
	-$(VENV)/bin/sftjob-devcluster down
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
