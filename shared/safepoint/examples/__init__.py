"""BPMN examples that ship with Safepoint (package data)."""
