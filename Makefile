.PHONY: hall test setup lint bench screenshots soak fuzz

# The demo issues tickets at any hour (labelled 演示/demo on the kiosk and the hall screen); the hall's real
# opening hours: `make hall HALL_ARGS=`. A demo clock instead: `make hall HALL_ARGS="--clock 2026-12-07T09:30"`.
HALL_ARGS ?= --always-open

# Set up (idempotent) and start the whole hall on embedded defaults.
hall: setup
	.venv/bin/onewindow hall $(HALL_ARGS)

# Set up (idempotent) and run the whole test suite.
test: setup
	.venv/bin/python -m pytest

setup:
	./scripts/setup

lint: setup
	.venv/bin/ruff check .

bench: setup
	.venv/bin/python -m tests.bench.load

# Screenshots of every staff page (1440×900) and every citizen page in zh/bo/en, for review: var/screenshots/.
screenshots: setup
	.venv/bin/python -m tests.support.screenshots var/screenshots

# A whole service day (09:00-17:30) of the demo hall at 60x speed under faults (~10 min); figures in BENCHMARKS.md.
soak: setup
	.venv/bin/python -m tests.integration.soak.day --hours 8.5 --speed 60 --seed 7 --json var/soak-last.json

# A longer generated-request run (schemathesis) against a live server, anonymous and as a supervisor.
fuzz: setup
	.venv/bin/python -m tests.bench.fuzz
