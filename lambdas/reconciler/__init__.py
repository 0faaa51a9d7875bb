"""The reconciler Lambda (see handler.py)."""
