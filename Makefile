# Two commands do everything on a fresh clone: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/prodgen demo --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q --timeout=600

bench: $(STAMP)
	$(BIN)/python bench/train_speed.py

clean:
	rm -rf runs/demo .pytest_cache
