"""Checkers of Stage 8, one module per exercise."""
