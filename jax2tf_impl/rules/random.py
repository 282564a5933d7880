"""Rules for the random family (see rules/__init__.py for the rule signature)."""
from __future__ import annotations
