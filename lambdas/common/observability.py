"""One Logger, Tracer and Metrics per function (Powertools reads POWERTOOLS_* env vars)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ParquetJsonEtl")


def observability(service: str) -> tuple[Logger, Tracer, Metrics]:
    return Logger(service=service), Tracer(service=service), Metrics(namespace=NAMESPACE, service=service)
