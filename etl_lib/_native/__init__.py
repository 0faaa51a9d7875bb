"""The native record encoder (C); see etl_lib/native.py."""
