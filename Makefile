# Two commands do all the set-up on a fresh machine:
#   make example   validate and render the shipped example project into build/example
#   make test      lint and type-check, then run the whole test suite
# Also: make lint (ruff, ruff format --check, mypy); make fast (pytest -m "not slow": the edit loop, under a minute).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: example lint test fast bench mutation clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

example: $(BIN)/.installed
	$(BIN)/bodywork validate examples/train-and-serve
	$(BIN)/bodywork render examples/train-and-serve --out build/example --ref HEAD \
		--repo-url https://github.com/bodywork-render/bodywork-render.git

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run.py

# mutmut over the modules that decide what is rendered (~10 min; results kept in mutants/ for bench's table)
mutation: $(BIN)/.installed
	$(BIN)/python benchmarks/mutation.py

clean:
	rm -rf $(VENV) build dist
