"""Offline experiments: the MovieLens-100k benchmark harness and its result files."""
