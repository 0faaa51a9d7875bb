"""The API's OpenAPI 3.1 document, generated from the handlers' routes and models.

``python -m lambdas.openapi`` prints it; ``docs/openapi.json`` is its committed copy and
a test fails when they differ.
"""

from __future__ import annotations

import sys

from aws_lambda_powertools import Logger

from lambdas.common.api import build_resolver


def document() -> str:
    from lambdas.download.handler import router as download
    from lambdas.status.handler import router as status
    from lambdas.upload.handler import router as upload

    app = build_resolver(upload, status, download, logger=Logger(service="openapi"))
    return (
        app.get_openapi_json_schema(
            title="Parquet to JSON jobs API",
            version="1.0.0",
            description="Upload a Parquet file, follow its conversion job, download the JSON output. "
            'Every error is {"error": {"code", "message"}}.',
            openapi_version="3.1.0",
        )
        + "\n"
    )


if __name__ == "__main__":
    sys.stdout.write(document())
    sys.exit(0)
