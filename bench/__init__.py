"""Benchmarks (run as scripts, e.g. ``.venv/bin/python bench/core.py --quick``)."""
