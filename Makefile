# streamsift developer entry points. `make demo` and `make test` work on a fresh machine:
# they install what they need (virtualenv, Python packages, Kafka jars, Debian packages).
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KAFKA_PORT ?= 9092
export KAFKA_PORT
DEMO_MINUTES ?= 3

.PHONY: help venv java-deps system-deps kafka-jars kafka-up kafka-down test test-fast lint typecheck \
        schemas bench demo clean

help:
	@echo "make demo   - run the whole loop end to end (Kafka, worker, producer, label-sim) and write a report"
	@echo "make test   - install everything, start a local Kafka broker, run every test tier, stop the broker"
	@echo "make lint   - ruff + mypy"
	@echo "make bench  - benchmarks (docs/benchmarks.md)"
	@echo "make kafka-up / make kafka-down - the local single-node KRaft broker"

# Debian packages the project needs: Java 17 + Maven for the broker (java-deps), and
# Prometheus (promtool and the server) for the alert-rule tests and the live check.
define apt_install
	SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo
	echo "installing Debian packages:$(1)"
	$$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(1)
endef

java-deps:
	@missing=""
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"
	command -v mvn >/dev/null || missing="$$missing maven"
	if [ -n "$$missing" ]; then
	  $(call apt_install,$$missing)
	fi

system-deps: java-deps
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
	  $(call apt_install,prometheus)
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,plot,peers,profile]'
	touch $(STAMP)

venv: $(STAMP)

kafka-jars: java-deps
	bash deploy/kafka/fetch-jars.sh

kafka-up: kafka-jars
	bash deploy/kafka/start.sh

kafka-down:
	bash deploy/kafka/stop.sh

lint: venv
	$(VENV)/bin/ruff check service tests
	$(VENV)/bin/ruff format --check service tests
	$(VENV)/bin/mypy

schemas: venv
	$(VENV)/bin/streamsift schemas export --out schemas

# The whole suite: tier 1 (pure core), tier 2 (Faust test context), tier 3 (real broker).
# Starts the local broker unless KAFKA_BOOTSTRAP_SERVERS names an existing cluster, and
# always stops the broker it started.
test: venv system-deps
	started=0
	if [ -z "$${KAFKA_BOOTSTRAP_SERVERS:-}$${STREAMSIFT_KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
	  $(MAKE) --no-print-directory kafka-up
	  started=1
	  export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$(KAFKA_PORT)
	fi
	rc=0
	$(MAKE) --no-print-directory lint || rc=$$?
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS) || rc=$$?
	if [ "$$started" = 1 ]; then $(MAKE) --no-print-directory kafka-down || true; fi
	exit $$rc

test-fast: venv
	$(PY) -m pytest -m "not kafka and not slow" $(PYTEST_ARGS)

bench: venv system-deps
	started=0
	if [ -z "$${KAFKA_BOOTSTRAP_SERVERS:-}$${STREAMSIFT_KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
	  $(MAKE) --no-print-directory kafka-up
	  started=1
	  export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$(KAFKA_PORT)
	fi
	rc=0
	$(PY) -m streamsift.bench.run_all --doc docs/benchmarks.md $(BENCH_ARGS) || rc=$$?
	if [ "$$started" = 1 ]; then $(MAKE) --no-print-directory kafka-down || true; fi
	exit $$rc

demo: venv system-deps
	@if [ -z "$${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then $(MAKE) --no-print-directory kafka-jars; fi
	$(VENV)/bin/streamsift demo --minutes $(DEMO_MINUTES)

clean:
	rm -rf $(VENV) .kafka .mypy_cache .ruff_cache .pytest_cache
