.PHONY: hall scaled test setup lint bench bench-ops bench-fanout bench-load screenshots soak fuzz

# The demo issues tickets at any hour (labelled 演示/demo on the kiosk and the hall screen); the hall's real
# opening hours: `make hall HALL_ARGS=`. A demo clock instead: `make hall HALL_ARGS="--clock 2026-12-07T09:30"`.
HALL_ARGS ?= --always-open

# Set up (idempotent) and start the whole hall on embedded defaults.
hall: setup
	.venv/bin/onewindow hall $(HALL_ARGS)

# Scaled mode: two server processes on PostgreSQL + Redis behind HAProxy (see scripts/scaled for the variables).
scaled: setup
	./scripts/scaled

# Set up (idempotent) and run the whole test suite.
test: setup
	.venv/bin/python -m pytest

setup:
	./scripts/setup

# ruff, then mypy on queue_server/ devices/ kiosk/ display/ (settings in pyproject.toml; unused ignores are errors).
lint: setup
	.venv/bin/ruff check .
	.venv/bin/python -m mypy

# Per-operation cost (issue and call-next beside their floors; SQLite, PostgreSQL with one and two processes on the
# Redis queue), then the call -> screen fan-out table. ~15 min; the machine's load average is printed with the figures.
bench: bench-ops bench-fanout

bench-ops: setup
	.venv/bin/python -m tests.bench.ops

bench-fanout: setup
	.venv/bin/python -m tests.bench.fanout --clients 100,300,1000,5000

# The older mixed-load run (300 Socket.IO clients, open-loop kiosks; ~13 min).
bench-load: setup
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
