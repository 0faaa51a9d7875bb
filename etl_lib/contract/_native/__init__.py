"""The native record encoder (C); see etl_lib/contract/native.py."""
