"""Benchmarks of the Sentron: one module per section of docs/benchmarks.md; ``run.py`` runs them."""
