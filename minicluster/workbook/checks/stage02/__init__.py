"""Checkers of Stage 2, one module per exercise."""
