.PHONY: hall test setup lint bench

# Set up (idempotent) and start the whole hall on embedded defaults.
hall: setup
	.venv/bin/onewindow hall

# Set up (idempotent) and run the whole test suite.
test: setup
	.venv/bin/python -m pytest

setup:
	./scripts/setup

lint: setup
	.venv/bin/ruff check .

bench: setup
	.venv/bin/python -m tests.bench.load
