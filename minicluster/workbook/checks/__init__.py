"""Checkers, one module per stage; :mod:`.base` holds what they share."""
