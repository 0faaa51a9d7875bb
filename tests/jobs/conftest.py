from tests.jobs.support import (
    aws_env,
    aws_lambda_env,
    aws_resources,
    conversions,
    local_env,
    make_service,
    moto_endpoint,
)

__all__ = [
    "aws_env",
    "aws_lambda_env",
    "aws_resources",
    "conversions",
    "local_env",
    "make_service",
    "moto_endpoint",
]
