"""The status Lambda (see handler.py)."""
