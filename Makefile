# Two commands for a fresh machine:  make run  (install, provision models, build the index, open the chat page)
#                                    make test (install, provision models, run every test)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: install models index run test test-fast bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install torch==2.13.0   # the CPU wheel first, so nothing pulls a CUDA build
	$(PIP) install -e ".[test]"
	touch $@

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
	rm -rf $(VENV) embeddings/v-* embeddings/CURRENT
