"""The job store: one DynamoDB item per conversion job."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

# The names the adapter the Lambdas and the Glue job use (etl_lib.jobs.aws.DynamoJobStore)
# reads and writes: defined there, once.
from etl_lib.jobs.aws import ACTIVE_INDEX, ACTIVE_KEY, CREATED_KEY, OWNER_INDEX, OWNER_KEY
from etl_lib.jobs.aws import JOB_KEY as PARTITION_KEY


class JobsTable(Construct):
    """On-demand, point-in-time recoverable, encrypted; records expire through TTL.

    The ``by_owner`` index serves ``GET /jobs``: partition on the caller's Cognito ``sub``,
    sort on ``sort_key`` (the creation time, fixed-width UTC, then the job id, so lexical order
    is time order) queried with ScanIndexForward=false for newest first.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ttl_attribute: str,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            time_to_live_attribute=ttl_attribute,
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=OWNER_INDEX,
                    partition_key=dynamodb.Attribute(name=OWNER_KEY, type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name=CREATED_KEY, type=dynamodb.AttributeType.STRING),
                    projection_type=dynamodb.ProjectionType.ALL,
                ),
                # Sparse: only QUEUED and RUNNING jobs carry the key, so the reconciler's
                # pass reads the active jobs rather than every job kept.
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=ACTIVE_INDEX,
                    partition_key=dynamodb.Attribute(name=ACTIVE_KEY, type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name=CREATED_KEY, type=dynamodb.AttributeType.STRING),
                    projection_type=dynamodb.ProjectionType.KEYS_ONLY,
                ),
            ],
            removal_policy=removal_policy,
        )


# Powertools' DynamoDBPersistenceLayer defaults (the upload Lambda's Idempotency-Key records).
IDEMPOTENCY_KEY = "id"
IDEMPOTENCY_TTL = "expiration"


class IdempotencyTable(Construct):
    """Idempotency-Key records of POST /jobs: a few hundred bytes each, deleted by TTL once the
    upload form they replay has expired. Its own table so the upload Lambda's grants on it
    cannot touch job records."""

    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=IDEMPOTENCY_KEY, type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            time_to_live_attribute=IDEMPOTENCY_TTL,
            removal_policy=removal_policy,
        )
