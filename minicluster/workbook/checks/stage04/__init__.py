"""Checkers of Stage 4, one module per exercise."""
