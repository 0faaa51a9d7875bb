"""A local AWS Glue interactive-sessions endpoint for the unchanged ``glue_pyspark`` kernel.

- :mod:`~etl_devstack.sessions.server`: the HTTP endpoint (Glue's JSON protocol; moto for STS,
  IAM, S3), ``etl sessions``, and :func:`~etl_devstack.sessions.server.start` for tests;
- :mod:`~etl_devstack.sessions.manager`: sessions and statements, one process per session;
- :mod:`~etl_devstack.sessions.worker`: the session process (``spark``, ``sc``, ``glueContext``);
- :mod:`~etl_devstack.sessions.guard`: who may talk to the endpoint (no web page, ever);
- :mod:`~etl_devstack.sessions.config`: ``etl session-config``, the magics the notebooks load
  (found and applied by :mod:`etl_lib.notebook.session_config`, which ships with the notebooks).
"""
