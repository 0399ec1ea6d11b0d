"""Eyla's data, installed as the package `eyla.data`: the identity spec, probe suites,
calibration sets and shipped subsystem weights."""
