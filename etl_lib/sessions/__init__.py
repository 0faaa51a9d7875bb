"""A local AWS Glue interactive-sessions endpoint for the unchanged ``glue_pyspark`` kernel.

- :mod:`~etl_lib.sessions.server`: the HTTP endpoint (Glue's JSON protocol; moto for STS,
  IAM, S3), ``etl sessions``, and :func:`~etl_lib.sessions.server.start` for tests;
- :mod:`~etl_lib.sessions.manager`: sessions and statements, one process per session;
- :mod:`~etl_lib.sessions.worker`: the session process (``spark``, ``sc``, ``glueContext``);
- :mod:`~etl_lib.sessions.guard`: who may talk to the endpoint (no web page, ever);
- :mod:`~etl_lib.sessions.config`: ``etl session-config``, the magics the notebooks load.
"""
