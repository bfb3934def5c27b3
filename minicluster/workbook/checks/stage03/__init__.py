"""Checkers of Stage 3, one module per exercise."""
