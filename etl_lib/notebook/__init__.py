"""Notebook support: the logic behind the thin notebooks in ``notebooks/``.

- :mod:`~etl_lib.notebook.storage`: read job data from ``s3://``, a local path or the
  local stack's store (``.etl-local``) with one function.
- :mod:`~etl_lib.notebook.explore`: what ``01-explore`` shows about a Parquet input.
- :mod:`~etl_lib.notebook.roundtrip`: the per-value reading of the contract used to check
  that output records round-trip to the input values.
- :mod:`~etl_lib.notebook.validation`: ``validate_output`` (``03-validate-output``).
- :mod:`~etl_lib.notebook.glue_local`: IPython extension making Glue magics no-ops, and the
  ``spark``/``glueContext`` (catalog reads) of local kernels and sessions.
- :mod:`~etl_lib.notebook.s3_local`: ``s3://`` for plain ``spark.read``/``df.write`` locally.
- :mod:`~etl_lib.notebook.session_config`: IPython extension applying ``etl session-config``.
- :mod:`~etl_lib.notebook.kernel`: installs the ``etl-local`` kernel into the environment.
- :mod:`~etl_lib.notebook.papermill_glue`: papermill translator for the Glue kernels.
- :mod:`~etl_lib.notebook.runner`: papermill runs that fail on error outputs.
- :mod:`~etl_lib.notebook.command`: ``etl notebook run``, the runner on the command line.
- :mod:`~etl_lib.notebook.validate_jobs`: ``etl validate`` and the scheduled Glue job.
"""
