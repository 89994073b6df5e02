"""Benchmarks of what the procedures cost: never part of ``make test``; ``make bench`` runs all.

Each is a module run as ``.venv/bin/python -m bench.<name>``; each writes
``bench/results/<name>.json`` and prints a table. See docs/benchmarks.md.
"""
