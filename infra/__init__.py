"""The AWS CDK app (Python) that deploys the Parquet → JSON pipeline: see docs/deploy.md."""

import os

# jsii (the runtime under aws-cdk-lib) prints a banner about Node 20's end of life on every
# start; set before aws_cdk is first imported. Exporting the variable yourself overrides this.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
