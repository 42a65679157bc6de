"""Safepoint engine service: the command side of the engine (start, correlate, dispatch)."""

__version__ = "0.1.0"
