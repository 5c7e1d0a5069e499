"""Benchmarks: each prints its figures beside the raw capacity of the same broker and database."""
