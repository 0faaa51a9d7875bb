"""The Spark engine (AWS Glue, or local Spark).

- :mod:`~etl_lib.spark.transform`: the ``DataFrame -> DataFrame`` steps the executors run
  on slices, with the same decoding and contract as the local engine;
- :mod:`~etl_lib.spark.session`: a local SparkSession configured like the Glue job's
  (its log4j2 configuration is in ``conf/``).
"""
