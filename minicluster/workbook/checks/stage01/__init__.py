"""Checkers of Stage 1, one module per exercise."""
