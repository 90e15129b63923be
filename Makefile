# Two commands for a fresh machine:  make run  (install, provision models, build the index, open the chat page)
#                                    make test (install, provision models, run every test)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: install models index run test test-fast bench lock clean

install: $(VENV)/.installed

# Every package, transitive ones included, comes from requirements.lock at the version and hash that were
# tested (torch is the CPU wheel on this machine's disk); the project itself is installed on top, without
# dependencies, so nothing resolves anew on a fresh machine.
$(VENV)/.installed: pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(PIP) install --require-hashes --no-deps -r requirements.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $@

# Refresh requirements.lock on purpose, after changing a pin in pyproject.toml (pip-tools, in its own venv).
lock:
	python3 -m venv .venv-lock
	.venv-lock/bin/pip --disable-pip-version-check -q install pip==26.3 pip-tools==7.7.0
	.venv-lock/bin/python tools/lock.py

models: install
	$(VENV)/bin/rag models

index: models
	$(VENV)/bin/rag index

run: models
	$(VENV)/bin/rag serve

test: models
	$(PY) -m pytest -v -ra

test-fast: install
	$(PY) -m pytest -q -m "not models"

clean:
	rm -rf $(VENV) .venv-lock embeddings/v-* embeddings/CURRENT
