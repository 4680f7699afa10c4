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

.PHONY: help install test synth diff deploy preflight deploy-local destroy-local bench clean security-doc docs

help:
	@echo "make deploy-local   deploy TradaiDev into a local AWS emulator and verify it (KEEP=1 keeps it running)"
	@echo "make test           unit, snapshot, cfn-lint and handler tests"
	@echo "make synth          write cdk.out/ for all three stages (no AWS credentials needed)"
	@echo "make diff STAGE=TradaiProd     cdk diff against a real account"
	@echo "make preflight STAGE=TradaiProd  are STAGE's S3 bucket names free or ours? (BUCKET_SUFFIX=... to try a suffix)"
	@echo "make deploy STAGE=TradaiProd   cdk deploy 'STAGE/*' to a real account"
	@echo "make bench          synth wall time and peak memory"
	@echo "make docs           regenerate docs/canonical-config.md from tradai_cdk/config/"

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

test: install
	$(PY) -m pytest

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

bench: install
	$(PY) bench/synth_benchmark.py

# Regenerates the acknowledged findings in docs/security.md from a fresh synth (tests/test_security_doc.py checks it).
security-doc: install
	$(PY) -m tradai_cdk.security_doc

# Regenerates docs/canonical-config.md from the config dataclasses, no synth (tests/test_config_doc.py checks it).
docs: $(VENV)/.installed
	$(PY) -m tradai_cdk.config_doc

clean:
	rm -rf cdk.out .pytest_cache .local-emulator
