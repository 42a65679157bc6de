"""Safepoint deployer service: takes BPMN deployments, validates and versions them."""

__version__ = "0.1.0"
