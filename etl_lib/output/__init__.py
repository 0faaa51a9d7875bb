"""Writing the JSON output: encoded slices to one published file.

- :mod:`~etl_lib.output.writer`: slices decoded, encoded and framed as pieces of the final
  file, on the local engine's threads or in a Spark task;
- :mod:`~etl_lib.output.sink`: staged pieces, ordered concatenation, atomic publication
  (a local file or an S3 multipart upload);
- :mod:`~etl_lib.output.parts`: which bytes of the pieces make which part of the S3 upload,
  within S3's part limits (a pure function);
- :mod:`~etl_lib.output.s3_publish`: the S3 calls that carry out that plan, on a bounded pool;
- :mod:`~etl_lib.output.direct_file`: the local output file, written around the page cache.
"""
