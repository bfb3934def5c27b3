"""Benchmarks of the mini-cluster and the capstone: ``python -m benchmarks`` (full) or ``--quick``."""
