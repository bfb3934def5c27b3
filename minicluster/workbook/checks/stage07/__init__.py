"""Checkers of Stage 7, one module per exercise."""
