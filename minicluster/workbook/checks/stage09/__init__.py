"""Checkers of Stage 9, one module per exercise."""
