"""The upload Lambda (see handler.py)."""
