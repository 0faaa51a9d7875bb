"""AWS adapters: S3, DynamoDB, the Glue and converter Lambda launchers, CloudWatch (boto3).

Each constructor takes a boto3 client, so tests pass clients bound to moto and the
Lambdas pass clients created once per container by the composition root.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from etl_lib.jobs import state
from etl_lib.jobs.metrics import SERVICE_DIMENSION, job_end_values
from etl_lib.jobs.models import Job, JobPage, JobStatus, decode_cursor, encode_cursor, sort_key, utc_now
from etl_lib.jobs.ports import JobLauncher, JobMetrics, JobStore, ObjectStore, PresignedPost


class S3ObjectStore(ObjectStore):
    def __init__(self, client: Any, bucket: str) -> None:
        self.s3 = client
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def presign_post(self, key: str, *, max_bytes: int, expires_in: int) -> PresignedPost:
        # The key is fixed (no ${filename}) and the size bounded by a signed condition.
        post = self.s3.generate_presigned_post(
            Bucket=self.bucket, Key=key, Conditions=[["content-length-range", 0, max_bytes]], ExpiresIn=expires_in
        )
        return PresignedPost(url=post["url"], fields=dict(post["fields"]))

    def presign_get(self, key: str, *, download_name: str, expires_in: int) -> str:
        disposition = f'attachment; filename="{download_name.replace(chr(34), "")}"'
        url: str = self.s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": disposition},
            ExpiresIn=expires_in,
        )
        return url

    def size(self, key: str) -> int | None:
        try:
            return int(self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except self.s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def read_range(self, key: str, start: int, length: int) -> bytes:
        body = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{start + length - 1}")["Body"]
        data: bytes = body.read()
        return data

    def put_bytes(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            data: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return data

    def delete_prefix(self, prefix: str) -> None:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; ours are all integers."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class DynamoJobStore(JobStore):
    """One item per job, keyed by ``job_id``; the ``by_owner`` index lists a user's jobs
    newest first (hash ``owner``, range ``sort_key``)."""

    OWNER_INDEX = "by_owner"

    def __init__(self, client: Any, table: str) -> None:
        self.db = client
        self.table = table

    @classmethod
    def create_table(cls, client: Any, table: str) -> None:
        """The table's schema (the CDK stack declares the same one)."""
        client.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("job_id", "owner", "sort_key")],
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": cls.OWNER_INDEX,
                    "KeySchema": [
                        {"AttributeName": "owner", "KeyType": "HASH"},
                        {"AttributeName": "sort_key", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )

    @staticmethod
    def _item(job: Job) -> dict[str, Any]:
        data = {**job.stored(), "sort_key": sort_key(job)}
        return {k: _serializer.serialize(v) for k, v in data.items()}

    @staticmethod
    def _job(item: Mapping[str, Any]) -> Job:
        data = {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}
        data.pop("sort_key", None)
        return Job.model_validate(data)

    def create(self, job: Job) -> None:
        self.db.put_item(TableName=self.table, Item=self._item(job), ConditionExpression="attribute_not_exists(job_id)")

    def get(self, job_id: str) -> Job | None:
        item = self.db.get_item(TableName=self.table, Key={"job_id": {"S": job_id}}, ConsistentRead=True).get("Item")
        return self._job(item) if item else None

    def list_for_owner(self, owner: str, *, limit: int, cursor: str | None = None) -> JobPage:
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": self.OWNER_INDEX,
            "Limit": limit,
            "ScanIndexForward": False,
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":o": {"S": owner}},
        }
        if cursor:
            position = decode_cursor(cursor)
            if set(position) != {"job_id", "sort_key"}:
                raise ValueError("invalid cursor")
            request["ExclusiveStartKey"] = {
                "job_id": {"S": position["job_id"]},
                "owner": {"S": owner},
                "sort_key": {"S": position["sort_key"]},
            }
        response = self.db.query(**request)
        jobs = [self._job(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        next_cursor = (
            encode_cursor({"job_id": last["job_id"]["S"], "sort_key": last["sort_key"]["S"]}) if last else None
        )
        return JobPage(jobs=jobs, next_cursor=next_cursor)

    def transition(self, job_id: str, target: JobStatus, changes: Mapping[str, Any] | None = None) -> Job | None:
        sources = sorted(state.allowed_sources(target))
        values: dict[str, Any] = {"status": target.value, "updated_at": utc_now().isoformat(), **(changes or {})}
        names = {f"#f{i}": name for i, name in enumerate(values)}
        attribute_values = {f":v{i}": _serializer.serialize(value) for i, value in enumerate(values.values())}
        attribute_values.update({f":s{i}": {"S": s.value} for i, s in enumerate(sources)})
        names["#status"] = "status"
        condition = f"attribute_exists(job_id) AND #status IN ({', '.join(f':s{i}' for i in range(len(sources)))})"
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attribute_values,
                ReturnValues="ALL_NEW",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return None
        return self._job(response["Attributes"])

    def delete(self, job_id: str, *, unless: frozenset[JobStatus] = frozenset()) -> bool:
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"job_id": {"S": job_id}},
            "ConditionExpression": "attribute_exists(job_id)",
        }
        if unless:
            blocked = sorted(unless)
            request["ConditionExpression"] += (
                f" AND NOT #status IN ({', '.join(f':s{i}' for i in range(len(blocked)))})"
            )
            request["ExpressionAttributeNames"] = {"#status": "status"}
            request["ExpressionAttributeValues"] = {f":s{i}": {"S": s.value} for i, s in enumerate(blocked)}
        try:
            self.db.delete_item(**request)
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True


class GlueJobLauncher(JobLauncher):
    def __init__(self, client: Any, job_name: str) -> None:
        self.glue = client
        self.job_name = job_name

    def start(self, arguments: Mapping[str, str]) -> str:
        run_id: str = self.glue.start_job_run(JobName=self.job_name, Arguments=dict(arguments))["JobRunId"]
        return run_id

    def arguments_of(self, run_id: str) -> dict[str, str] | None:
        try:
            run = self.glue.get_job_run(JobName=self.job_name, RunId=run_id)["JobRun"]
        except self.glue.exceptions.EntityNotFoundException:
            return None
        return dict(run.get("Arguments", {}))


class LambdaLauncher(JobLauncher):
    """Starts a local-engine run: an asynchronous invocation of the converter Lambda.

    Asynchronous (``InvocationType=Event``) because the events Lambda must not wait for the
    conversion; Lambda retries a crashed run, then reports it to the on-failure
    destination, which fails the job (:meth:`JobService.on_run_lost`).
    """

    def __init__(self, client: Any, function_name: str) -> None:
        self.lambda_ = client
        self.function_name = function_name

    def start(self, arguments: Mapping[str, str]) -> str:
        # The converter runs in the same deployment as this service: it builds the stores
        # from its own environment, so the job id is all it needs.
        payload = {"job_id": arguments["--job_id"]}
        response = self.lambda_.invoke(
            FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps(payload).encode()
        )
        # The request id is how the converter's logs and its failure record name this run.
        request_id = response.get("ResponseMetadata", {}).get("RequestId") or uuid.uuid4().hex
        return f"lambda:{request_id}"

    def arguments_of(self, run_id: str) -> dict[str, str] | None:
        return None  # converter failures name their job themselves (the request payload)


class CloudWatchJobMetrics(JobMetrics):
    """PutMetricData, for the Glue job: no Lambda log extraction of EMF lines there."""

    def __init__(self, client: Any, namespace: str) -> None:
        self.cloudwatch = client
        self.namespace = namespace

    def job_ended(self, job: Job) -> None:
        name, value = SERVICE_DIMENSION
        self.cloudwatch.put_metric_data(
            Namespace=self.namespace,
            MetricData=[
                {"MetricName": metric, "Unit": unit, "Value": amount, "Dimensions": [{"Name": name, "Value": value}]}
                for metric, unit, amount in job_end_values(job)
            ],
        )
