# The two commands of the README. Both set up everything first (scripts/setup_env.sh is idempotent).
SHELL := /bin/bash
PY := .venv/bin/python
# DDS stays on loopback, in a domain of its own (DESIGN.md §4).
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export ROS_LOCALHOST_ONLY ?= 1
export ROS_DOMAIN_ID ?= 42
export RMW_IMPLEMENTATION ?= rmw_fastrtps_cpp
export FASTDDS_DEFAULT_PROFILES_FILE ?= $(CURDIR)/config/fastdds.xml

.PHONY: setup demo test lint bench clean

setup:
	@bash scripts/setup_env.sh

demo: setup
	$(PY) -m pose3d_ros.cli demo --output out/demo

test: setup
	$(PY) -m pytest -q test

lint: setup
	.venv/bin/ruff check pose3d_ros test bench scripts

bench: setup
	OMP_NUM_THREADS=1 $(PY) bench/bench_lifting.py --quick
	$(PY) bench/bench_vs_mediapipe.py
	$(PY) bench/bench_e2e.py --seconds 30 --scenes one three
	$(PY) bench/bench_actions.py

clean:
	rm -rf build log out .pytest_cache
