"""Checkers of Stage 5, one module per exercise."""
