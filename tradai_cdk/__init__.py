"""TradAI infrastructure as an AWS CDK application."""
