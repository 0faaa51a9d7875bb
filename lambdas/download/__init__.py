"""The download Lambda (see handler.py)."""
