"""Reusable L3 constructs; each takes typed props and reads no global config."""
