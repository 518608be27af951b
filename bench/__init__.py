"""Benchmark: a deterministic data generator (`bench.generate`) and the load harness (`bench.run`)."""
