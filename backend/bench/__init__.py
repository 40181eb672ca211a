"""Benchmarks (`pledgewatch bench ...`)."""
