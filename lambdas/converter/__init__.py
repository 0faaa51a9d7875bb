"""The converter Lambda (see handler.py)."""
