from tests.jobs.support import aws_env, aws_lambda_env, aws_resources, local_env, moto_endpoint

__all__ = ["aws_env", "aws_lambda_env", "aws_resources", "local_env", "moto_endpoint"]
