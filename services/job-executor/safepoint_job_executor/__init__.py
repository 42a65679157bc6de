"""Safepoint job-executor service: continues process instances from one safe point to the next."""

__version__ = "0.1.0"
