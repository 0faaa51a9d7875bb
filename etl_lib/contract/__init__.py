"""The JSON contract (docs/json-contract.md): Arrow values to JSON text.

- :mod:`~etl_lib.contract.reference`: the reference encoder, Arrow compute kernels, the one
  implementation of every rule (``encode_lines``);
- :mod:`~etl_lib.contract.native`: the loader of the native one-pass encoder (``_native/``,
  C), which writes the same bytes and hands the reference what it does not cover;
- :mod:`~etl_lib.contract.type_families`: the one classification of Arrow types every
  type walker dispatches on.

Nothing is imported here: ``etl convert`` loads only the modules it uses.
"""
