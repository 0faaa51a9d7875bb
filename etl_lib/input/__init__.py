"""Reading the Parquet input: from a file or directory of parts to Arrow record batches.

- :mod:`~etl_lib.input.planning`: validate an input by its footers, cut its row groups into
  ordered slices, and decode one slice (``open_input``, ``ParquetInput.plan``, ``read_slice``);
- :mod:`~etl_lib.input.batches`: batch sizing, by the bytes a batch really decodes to;
- :mod:`~etl_lib.input.int96`: INT96 timestamps recovered exactly from Arrow's two lossy reads;
- :mod:`~etl_lib.input.budget`: a run's limits (decoded and written bytes, run time), enforced.
"""
