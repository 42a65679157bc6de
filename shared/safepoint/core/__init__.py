"""The engine core: atomic operations, behaviours per element, jobs, retries, incidents.

Free of I/O frameworks: the caller loads an instance's state, runs a command of
:mod:`safepoint.core.runtime` on it with a clock, an id source and the delegate
registry, and commits the result.
"""
