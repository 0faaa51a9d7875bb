"""The events Lambda (see handler.py)."""
