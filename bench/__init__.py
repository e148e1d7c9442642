"""Benchmarks: each case prints its figures and their ratio to a baseline measured in the same run."""
