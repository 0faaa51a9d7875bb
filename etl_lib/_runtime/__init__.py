"""Private helpers of the package, not part of its API.

- :mod:`~etl_lib._runtime.lazy`: start-up (modules imported on first use, pyarrow without
  numpy, imports without the garbage collector, log records without ``logging``);
- :mod:`~etl_lib._runtime.arrow_memory`: Arrow's memory pool for the local engine;
- :mod:`~etl_lib._runtime.numpy_views`: numpy views of Arrow arrays over the buffer protocol;
- :mod:`~etl_lib._runtime.validated`: frozen dataclasses that pydantic validates on demand;
- :mod:`~etl_lib._runtime.fs`: the filesystem of a local path or an ``s3://`` URI, for the
  input, the output and the notebooks alike.
"""
