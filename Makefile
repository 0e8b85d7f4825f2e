# The two commands a newcomer needs are `make lab` and `make test` (see README.md).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup lab test java browser samples compat clean

setup: $(VENV)/.installed

# Pinned: constraints.txt is the resolved set of every package (regenerate with `pip freeze`).
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $@

lab: setup
	$(BIN)/jupyter lab --notebook-dir=. $$([ "$$(id -u)" = 0 ] && echo --allow-root) notebooks/01_quickstart.ipynb

# Real DL4J: Maven fetches DL4J 1.0.0-M2.1 once into ~/.m2 and builds the harness jar.
java: setup
	$(BIN)/python -c "from workbench.check.dl4j_jvm import ensure_built; print('DL4J harness:', ensure_built(quiet=False))"

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here).
browser:
	@test -x /usr/bin/chromium || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

test: setup java browser
	$(BIN)/python -m pytest

# Regenerate docs/compatibility.md (our export vs DL4J's KerasModelImport, both in real DL4J).
compat: setup java
	$(BIN)/python tools/compatibility.py

samples: setup
	$(BIN)/python sample_models/generate.py

clean:
	rm -rf $(VENV) java/dl4j-harness/target .pytest_cache
