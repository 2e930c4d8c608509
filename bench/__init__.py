"""Benchmarks: figures printed side by side with baselines measured in the same run."""
