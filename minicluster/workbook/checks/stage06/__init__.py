"""Checkers of Stage 6, one module per exercise."""
