# TradAI CDK: set-up, tests, synth and deploys. Every target installs what it needs
# from the pinned files into .venv/ and node_modules/.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
STAGE ?= TradaiDev
# The tag every service and task image is deployed at (ECR tags are immutable): the commit being released.
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
# BUCKET_SUFFIX=x names the buckets tradai-<component>-<env>-x (else cdk.json's bucket_suffix context, if any).
CONTEXT = -c image_tag=$(IMAGE_TAG) $(if $(BUCKET_SUFFIX),-c bucket_suffix=$(BUCKET_SUFFIX))

# Node 20 is what these machines have; jsii and the CLI would warn on every run.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED := 1

.PHONY: help install test synth diff deploy preflight deploy-local destroy-local bench clean security-doc docs cost guard lint typecheck

help:
	@echo "make deploy-local   deploy TradaiDev into a local AWS emulator and verify it (KEEP=1 keeps it running)"
	@echo "make test           lint, then unit, snapshot, cfn-lint and handler tests"
	@echo "make lint           ruff (lint + format check) and mypy on app.py, tradai_cdk, lambda_src, local_emulator"
	@echo "make synth          write cdk.out/ for all three stages (no AWS credentials needed)"
	@echo "make diff STAGE=TradaiProd     cdk diff against a real account"
	@echo "make preflight STAGE=TradaiProd  are STAGE's S3 bucket names free or ours? (BUCKET_SUFFIX=... to try a suffix)"
	@echo "make deploy STAGE=TradaiProd   cdk deploy 'STAGE/*' to a real account"
	@echo "make bench          synth, test, import and stack-size figures -> docs/performance.md (RUNS=3)"
	@echo "make docs           regenerate docs/canonical-config.md from tradai_cdk/config/"
	@echo "make cost           monthly cost estimate per environment (BASE=main: before/after; FORMAT=markdown)"
	@echo "make guard          fail if BASE (main) -> the working tree replaces or deletes a stateful resource"

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

# Two pytest-xdist workers (this machine's cores); the session's synth is done once, under a lock (tests/conftest.py).
# Bytecode is written (some environments turn it off) under .cache/pycache, outside the Lambda asset: each worker
# would otherwise compile everything it imports on every run.
TEST_ENV := PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/.cache/pycache
test: install lint
	$(TEST_ENV) $(PY) -m pytest -n 2

# Lint and types (issue 16; rules in pyproject.toml, decisions in docs/decisions.md). ruff format --check fails on
# unformatted code: `.venv/bin/ruff format <paths>` formats it (and `ruff check --fix` fixes what it can).
LINT_PATHS := app.py tradai_cdk lambda_src local_emulator bench
# mypy runs twice: the handler packages import each other as top-level packages (backtest.x) while tradai_cdk imports
# their contracts as lambda_src.<pkg>.contract, and one run cannot give a file two module names.
HANDLER_PACKAGES := $(patsubst lambda_src/%/__init__.py,-p %,$(wildcard lambda_src/*/__init__.py))

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	@$(MAKE) --no-print-directory typecheck

typecheck: $(VENV)/.installed
	MYPYPATH=lambda_src $(VENV)/bin/mypy $(HANDLER_PACKAGES)
	$(VENV)/bin/mypy app.py tradai_cdk local_emulator bench

synth: install
	$(CDK) synth --quiet $(CONTEXT) '**'

diff: install
	$(CDK) diff $(CONTEXT) '$(STAGE)/*'

deploy: install
	$(CDK) deploy $(CONTEXT) '$(STAGE)/*'

# Before a stage's first deploy: S3 bucket names are global; exit 1 names those another account holds (read-only
# HeadBucket calls with your AWS credentials).
preflight: install
	$(PY) -m tradai_cdk.preflight '$(STAGE)' $(CONTEXT)

deploy-local: install
	$(PY) -m local_emulator deploy $(if $(filter 1 yes true,$(KEEP)),--keep)

destroy-local:
	$(PY) -m local_emulator destroy

# Issue 19's figures from one run (bench/run.py): RUNS=n samples each (default 3); BENCH_SKIP_TESTS=1 / BENCH_SKIP_SCALE=1
# leave out `make test` / the scale check. Prints them, writes bench/results/latest.json and docs/performance.md.
bench: install
	$(PY) -m bench.run

# Regenerates the acknowledged findings in docs/security.md from a fresh synth (tests/test_security_doc.py checks it).
security-doc: install
	$(PY) -m tradai_cdk.security_doc

# Regenerates docs/canonical-config.md from the config dataclasses, no synth (tests/test_config_doc.py checks it).
docs: $(VENV)/.installed
	$(PY) -m tradai_cdk.config_doc

# Monthly cost estimate per environment from a synth of the working tree (tradai_cdk/cost; prices in
# tradai_cdk/cost/prices.json). BASE=<rev>: before/after and the largest changes; FORMAT=markdown for a PR comment;
# ASSEMBLY=<dir> / BASE_ASSEMBLY=<dir>: already synthesized assemblies instead; STRICT=1: exit 3 on a stale price
# table or a resource not costed (else both are flagged in the report and it exits 0).
cost: install
	@$(PY) -m tradai_cdk.cost --format $(or $(FORMAT),text) $(if $(BASE),--base '$(BASE)') \
		$(if $(ASSEMBLY),--assembly '$(ASSEMBLY)') $(if $(BASE_ASSEMBLY),--base-assembly '$(BASE_ASSEMBLY)') \
		$(if $(filter 1 yes true,$(STRICT)),--strict)

# Stateful-change guard (tradai_cdk/review): synthesizes BASE (default main) and HEAD (default the working tree) and
# exits 1 naming each stateful resource that would be replaced or deleted; an intended one passes only when listed in
# review/allowed-replacements.json. BASE_ASSEMBLY=<dir> / ASSEMBLY=<dir>: already synthesized assemblies instead.
guard: install
	$(PY) -m tradai_cdk.review guard $(if $(BASE),--base '$(BASE)') $(if $(HEAD),--head '$(HEAD)') \
		$(if $(BASE_ASSEMBLY),--base-dir '$(BASE_ASSEMBLY)') $(if $(ASSEMBLY),--head-dir '$(ASSEMBLY)')

clean:
	rm -rf cdk.out .pytest_cache .local-emulator .mypy_cache .ruff_cache
