# Two commands set up and run everything on a fresh machine:
#   make demo   quantize the bundled model and run it on the GPU (or NumPy without GL)
#   make test   run the test suite
# Each creates .venv and installs what it needs, Mesa's EGL packages included.

VENV ?= .venv
PYTHON := $(VENV)/bin/python

.PHONY: demo test lint bench clean

$(VENV)/.demo-installed: pyproject.toml setup.py scripts/setup_env.sh
	scripts/setup_env.sh $(VENV) ""
	touch $@

$(VENV)/.test-installed: pyproject.toml setup.py scripts/setup_env.sh
	scripts/setup_env.sh $(VENV) "test,plot"
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(VENV)/bin/alice-gl demo

test: $(VENV)/.test-installed
	$(PYTHON) -m pytest -q

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check alice_gl tests bench scripts

bench: $(VENV)/.test-installed
	$(PYTHON) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
