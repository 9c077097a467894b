# The two commands of the README: `make demo` and `make test`. Both install what they need.
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: install demo test lint bench clean

install:
	bash scripts/bootstrap.sh

demo: install
	$(BIN)/rramcosim demo --out out/demo

test: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf out .pytest_cache
