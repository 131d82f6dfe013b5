"""Benchmarks: each measures against a baseline taken in the same run; see docs/performance.md."""
