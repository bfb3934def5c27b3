"""Checkers of Stage 10, one module per exercise."""
