"""Reviewing a change: two revisions of the app synthesized side by side and compared (guard, diff, cost)."""
