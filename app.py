#!/usr/bin/env python3
"""CDK entry point: synthesizes the TradaiDev, TradaiStaging and TradaiProd stages."""

from tradai_cdk.app import build_app

build_app().synth()
