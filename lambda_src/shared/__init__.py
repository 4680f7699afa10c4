"""Helpers shared by the Lambda handler families (stdlib only)."""
