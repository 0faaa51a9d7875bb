"""The job domain: one uploaded Parquet file converted to one downloadable JSON file.

``models`` (what a job is), ``state`` (its legal life cycle), ``ports`` (the storage,
job store and launcher interfaces), ``aws`` and ``local`` (their adapters, with ``runs``
the local run queue), ``service`` (the use cases the Lambdas and the Glue job call) and
``settings`` (the composition root).
"""
