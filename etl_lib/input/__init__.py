"""Reading the Parquet input: from a file, a dataset or a catalog table to Arrow record batches.

- :mod:`~etl_lib.input.planning`: validate an input by its footers, cut its row groups into
  ordered slices, and decode one slice (``open_input``, ``ParquetInput.plan``, ``read_slice``);
- :mod:`~etl_lib.input.dataset`: a folder or prefix as one table (recursive listing, ``key=value``
  folders as columns typed as Spark types them, the files' columns united);
- :mod:`~etl_lib.input.catalog`: a Glue Data Catalog table (``glue://DATABASE/TABLE``) as a dataset;
- :mod:`~etl_lib.input.sources`: what names an input, parsed without pyarrow;
- :mod:`~etl_lib.input.batches`: batch sizing, by the bytes a batch really decodes to;
- :mod:`~etl_lib.input.int96`: INT96 timestamps recovered exactly from Arrow's two lossy reads;
- :mod:`~etl_lib.input.budget`: a run's limits (decoded and written bytes, run time), enforced.
"""
