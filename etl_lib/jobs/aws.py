"""AWS adapters: S3, DynamoDB, the Glue and converter Lambda launchers, CloudWatch (boto3).

Each constructor takes a boto3 client, so tests pass clients bound to moto and the
Lambdas pass clients created once per container by the composition root.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from etl_lib.errors import S3ErrorCode
from etl_lib.jobs import state
from etl_lib.jobs.metrics import SERVICE_DIMENSION, job_end_values
from etl_lib.jobs.models import Job, JobPage, JobStatus, decode_cursor, encode_cursor, job_id_of, sort_key, utc_now
from etl_lib.jobs.ports import (
    JobLauncher,
    JobMetrics,
    JobStore,
    ObjectStore,
    PartsRefusedError,
    PresignedPart,
    PresignedPost,
    Quota,
    RunSpec,
    RunUsage,
    UploadedPart,
    UploadGoneError,
)
from etl_lib.jobs.sizing import ExecutionClass, GlueSizing, glue_dpu_seconds, run_capacity

# S3's answers to a CompleteMultipartUpload whose parts do not fit (changed, too small...).
# ListParts pages to read at most (1,000 parts a page, S3's maximum of 10,000 parts).
S3_MAX_PART_PAGES = 11
_PARTS_REFUSED = frozenset(
    {
        S3ErrorCode.INVALID_PART,
        S3ErrorCode.INVALID_PART_ORDER,
        S3ErrorCode.ENTITY_TOO_SMALL,
        S3ErrorCode.INVALID_REQUEST,
        S3ErrorCode.BAD_DIGEST,
    }
)
CHECKSUM_HEADER = "x-amz-checksum-sha256"


class S3ObjectStore(ObjectStore):
    def __init__(self, client: Any, bucket: str) -> None:
        self.s3 = client
        self.bucket = bucket
        self._sigv4: Any = None

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def presign_post(self, key: str, *, max_bytes: int, expires_in: int) -> PresignedPost:
        # The key is fixed (no ${filename}) and the size bounded by a signed condition.
        post = self.s3.generate_presigned_post(
            Bucket=self.bucket, Key=key, Conditions=[["content-length-range", 0, max_bytes]], ExpiresIn=expires_in
        )
        return PresignedPost(url=post["url"], fields=dict(post["fields"]))

    def create_multipart(self, key: str) -> str:
        created = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256")
        return str(created["UploadId"])

    def _v4_client(self) -> Any:
        """A client like ours that presigns with SigV4, which signs the checksum header (the
        part's request must carry exactly it). Without an explicit signature version, botocore
        presigns some S3 URLs (us-east-1's) with SigV2, which would move the checksum into the
        query string, unsigned as a header; its config reads "s3v4" all the same."""
        if self._sigv4 is None:
            import boto3
            from botocore.config import Config

            meta = self.s3.meta
            self._sigv4 = boto3.client(
                "s3",
                region_name=meta.region_name,
                endpoint_url=meta.endpoint_url,
                config=meta.config.merge(Config(signature_version="s3v4")),
            )
        return self._sigv4

    def presign_part(
        self, key: str, upload_id: str, part_number: int, *, checksum_sha256: str, expires_in: int
    ) -> PresignedPart:
        url: str = self._v4_client().generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "UploadId": upload_id,
                "PartNumber": part_number,
                "ChecksumSHA256": checksum_sha256,
            },
            ExpiresIn=expires_in,
        )
        return PresignedPart(url=url, headers={CHECKSUM_HEADER: checksum_sha256})

    def _upload_call(self, method: Any, **params: Any) -> Any:
        try:
            return method(Bucket=self.bucket, **params)
        except self.s3.exceptions.ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in {S3ErrorCode.NO_SUCH_UPLOAD, "404"}:
                raise UploadGoneError(f"no upload {params.get('UploadId')}") from exc
            if code in _PARTS_REFUSED:
                raise PartsRefusedError(f"{code}: {exc.response['Error'].get('Message', '')}") from exc
            raise

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        parts: list[UploadedPart] = []
        marker = 0
        for _ in range(S3_MAX_PART_PAGES):  # bounded: 10,000 parts are 10 pages of 1,000
            page = self._upload_call(self.s3.list_parts, Key=key, UploadId=upload_id, PartNumberMarker=marker)
            parts.extend(
                UploadedPart(
                    part_number=int(p["PartNumber"]),
                    size=int(p["Size"]),
                    etag=str(p["ETag"]),
                    checksum_sha256=p.get("ChecksumSHA256"),
                )
                for p in page.get("Parts", [])
            )
            if not page.get("IsTruncated"):
                break
            marker = int(page["NextPartNumberMarker"])
        return sorted(parts, key=lambda p: p.part_number)

    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        listed = []
        for part in parts:
            entry: dict[str, Any] = {"PartNumber": part.part_number, "ETag": part.etag}
            if part.checksum_sha256 is not None:
                entry["ChecksumSHA256"] = part.checksum_sha256
            listed.append(entry)
        self._upload_call(
            self.s3.complete_multipart_upload, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
        )

    def abort_multipart(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(UploadGoneError):  # completed or aborted already
            self._upload_call(self.s3.abort_multipart_upload, Key=key, UploadId=upload_id)

    def presign_get(self, key: str, *, download_name: str, expires_in: int) -> str:
        disposition = f'attachment; filename="{download_name.replace(chr(34), "")}"'
        url: str = self.s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": disposition},
            ExpiresIn=expires_in,
        )
        return url

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self.s3.head_object(Bucket=self.bucket, Key=key)
            return head
        except self.s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def size(self, key: str) -> int | None:
        head = self._head(key)
        return None if head is None else int(head["ContentLength"])

    def version(self, key: str) -> str | None:
        head = self._head(key)
        return None if head is None else str(head["ETag"])

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


JOB_KEY = "job_id"
"""The jobs table's partition key (infra/pipeline/jobs_table.py builds the table from these)."""
OWNER_INDEX, OWNER_KEY, CREATED_KEY = "by_owner", "owner", "sort_key"
"""The index of a user's jobs, newest first: hash ``owner``, range ``sort_key``
("<created_at as fixed-width UTC>#<job_id>", ties in a stable order)."""
ACTIVE_INDEX, ACTIVE_KEY = "by_active", "active_status"
"""The index of the QUEUED and RUNNING jobs: ``active_status`` holds a job's status while it
is one of those and is removed when it leaves them, so the index holds only active jobs (a
sparse index) and the reconciler queries them instead of scanning every job ever kept.
Items written before the index existed lack the attribute: they are not in it."""


class DynamoJobStore(JobStore):
    """One item per job, keyed by ``job_id``; the ``by_owner`` index lists a user's jobs
    newest first (hash ``owner``, range ``sort_key``), the sparse ``by_active`` index the
    QUEUED and RUNNING ones."""

    OWNER_INDEX = OWNER_INDEX
    ACTIVE_INDEX = ACTIVE_INDEX
    PLACES_PREFIX = "places#"
    # How often one creation reads its owner's places item again after losing the write to a
    # concurrent one (which usually committed; DynamoDB may also cancel both on a conflict):
    # far more than a burst of one user's requests needs.
    CREATE_ATTEMPTS = 50

    def __init__(self, client: Any, table: str) -> None:
        self.db = client
        self.table = table

    @classmethod
    def indexes(cls) -> list[dict[str, Any]]:
        """The table's global secondary indexes as CreateTable takes them (the CDK stack
        declares the same ones, tests/infra holds them equal)."""
        return [
            {
                "IndexName": OWNER_INDEX,
                "KeySchema": [
                    {"AttributeName": OWNER_KEY, "KeyType": "HASH"},
                    {"AttributeName": CREATED_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": ACTIVE_INDEX,
                "KeySchema": [
                    {"AttributeName": ACTIVE_KEY, "KeyType": "HASH"},
                    {"AttributeName": CREATED_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ]

    @classmethod
    def create_table(cls, client: Any, table: str) -> None:
        """The table's schema (the CDK stack declares the same one)."""
        names = (JOB_KEY, OWNER_KEY, CREATED_KEY, ACTIVE_KEY)
        client.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in names],
            KeySchema=[{"AttributeName": JOB_KEY, "KeyType": "HASH"}],
            GlobalSecondaryIndexes=cls.indexes(),
        )

    @staticmethod
    def _item(job: Job) -> dict[str, Any]:
        # Unset fields are left out rather than stored as NULL: ``expires_at`` must be a
        # number or absent for TTL, and a missing lease reads as "free" in conditions.
        data = {**job.stored(), CREATED_KEY: sort_key(job)}
        if job.status in state.ACTIVE:
            data[ACTIVE_KEY] = job.status.value
        return {k: _serializer.serialize(v) for k, v in data.items() if v is not None}

    @staticmethod
    def _job(item: Mapping[str, Any]) -> Job:
        data = {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}
        data.pop(CREATED_KEY, None)
        data.pop(ACTIVE_KEY, None)
        return Job.model_validate(data)

    def create(self, job: Job, *, max_active: int = 0, now: int = 0, quota: Quota | None = None) -> bool:
        """With ``max_active`` or ``quota``, the owner's places item (see :meth:`_places`)
        reserves the place: one transaction puts the job and rewrites the item only if its
        version is the one read, so of creations racing for the last place exactly one
        commits; the others read again and find the owner at the limit."""
        quota = quota if quota is not None and quota.counts(job) else None
        if not max_active and quota is None:
            self.db.put_item(
                TableName=self.table, Item=self._item(job), ConditionExpression="attribute_not_exists(job_id)"
            )
            return True
        for attempt in range(self.CREATE_ATTEMPTS):
            places, version = self._places(job.owner, now)
            if quota is not None:
                # Which places the quota counts is in the jobs themselves: read them (at most
                # max_active of them), keeping only those still held.
                held = [found for job_id in places if (found := self._held(job_id, now)) is not None]
                places = [found.job_id for found in held]
                if sum(1 for found in held if quota.counts(found)) >= quota.limit:
                    return False
            if max_active and len(places) >= max_active:
                # Only at the limit: look whether each place is still held (a job that ended,
                # was deleted or expired gives it back without writing to this item).
                places = [job_id for job_id in places if self._holds_a_place(job_id, now)]
                if len(places) >= max_active:
                    return False
            if self._reserve(job, places, version):
                return True
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # another creation won: read again
        raise RuntimeError(f"could not create a job for {job.owner} after {self.CREATE_ATTEMPTS} contended attempts")

    def _places(self, owner: str, now: int) -> tuple[list[str], int | None]:
        """The ids of the owner's jobs that held a place when last written, and the item's
        version (None when the owner has no places item yet).

        One item per owner in the jobs table, keyed ``places#<owner>``: job ids are hex, so
        it can never be a job's key; it has no ``owner``/``status``/``expires_at``, so the
        by_owner index, the scans and TTL never see it."""
        item = self.db.get_item(TableName=self.table, Key=self._places_key(owner), ConsistentRead=True).get("Item")
        if item is None:
            # The owner's first limited creation: jobs made while the limit was off (or before
            # places were kept) take their places too.
            return self._active_ids(owner, now), None
        return [p["S"] for p in item.get("places", {}).get("L", [])], int(item["version"]["N"])

    def _places_key(self, owner: str) -> dict[str, Any]:
        return {"job_id": {"S": f"{self.PLACES_PREFIX}{owner}"}}

    def _holds_a_place(self, job_id: str, now: int) -> bool:
        return self._held(job_id, now) is not None

    def _held(self, job_id: str, now: int) -> Job | None:
        """The job ``job_id`` if it still holds a place at ``now``."""
        job = self.get(job_id)
        return job if job is not None and state.holds_a_place(job, now) else None

    def _reserve(self, job: Job, places: list[str], version: int | None) -> bool:
        """Put ``job`` and its owner's places item (``places`` plus the job) at the next
        version, both or neither; False when the item is no longer at ``version``."""
        item = {
            **self._places_key(job.owner),
            "places": {"L": [{"S": job_id} for job_id in [*places, job.job_id]]},
            "version": {"N": str((version or 0) + 1)},
        }
        guard: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(job_id)"}
        if version is not None:
            guard = {
                "ConditionExpression": "#version = :version",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":version": {"N": str(version)}},
            }
        try:
            self.db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": self._item(job),
                            "ConditionExpression": "attribute_not_exists(job_id)",
                        }
                    },
                    {"Put": {"TableName": self.table, "Item": item, **guard}},
                ]
            )
        except self.db.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons") or [{}]
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                raise  # the job itself exists already: creating it twice is an error
            return False  # the places item changed (or a concurrent transaction conflicted)
        return True

    def get(self, job_id: str) -> Job | None:
        if job_id.startswith(self.PLACES_PREFIX):
            return None  # an owner's places item (a made-up job id), never a job
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
            key = decode_cursor(cursor)
            request["ExclusiveStartKey"] = {
                "job_id": {"S": job_id_of(key)},
                "owner": {"S": owner},
                "sort_key": {"S": key},
            }
        response = self.db.query(**request)
        jobs = [self._job(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        next_cursor = encode_cursor(last["sort_key"]["S"]) if last else None
        return JobPage(jobs=jobs, next_cursor=next_cursor)

    def _update(
        self, job_id: str, values: Mapping[str, Any], condition: str, condition_values: Mapping[str, Any]
    ) -> Job | None:
        """SET ``values`` if ``condition`` holds (``#status``, ``#attempt``, ``#lease`` name
        those attributes; ``condition_values`` are already typed); the new item, or None. A
        new ``status`` also sets ``active_status`` while active and removes it otherwise."""
        values = {**values, "updated_at": utc_now().isoformat()}
        removed = ""
        if "status" in values:
            if JobStatus(values["status"]) in state.ACTIVE:
                values[ACTIVE_KEY] = values["status"]
            else:
                removed = f" REMOVE {ACTIVE_KEY}"
        names = {f"#f{i}": name for i, name in enumerate(values)}
        names.update(
            {
                "#status": "status",
                "#attempt": "attempt",
                "#lease": "lease_expires_at",
                "#queued": "queued_at",
                "#relaunches": "relaunches",
            }
        )
        used = {k: v for k, v in names.items() if k.startswith("#f") or k in condition}
        attribute_values = {f":v{i}": _serializer.serialize(value) for i, value in enumerate(values.values())}
        attribute_values.update(condition_values)
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))) + removed,
                ConditionExpression=f"attribute_exists(job_id) AND {condition}",
                ExpressionAttributeNames=used,
                ExpressionAttributeValues=attribute_values,
                ReturnValues="ALL_NEW",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return None
        return self._job(response["Attributes"])

    @staticmethod
    def _status_in(statuses: frozenset[JobStatus], prefix: str = ":s") -> tuple[str, dict[str, Any]]:
        ordered = sorted(statuses)
        values = {f"{prefix}{i}": {"S": s.value} for i, s in enumerate(ordered)}
        return f"#status IN ({', '.join(values)})", values

    def transition(
        self,
        job_id: str,
        target: JobStatus,
        changes: Mapping[str, Any] | None = None,
        *,
        attempt: str | None = None,
        lapsed_by: int | None = None,
        unclaimed_by: int | None = None,
    ) -> Job | None:
        condition, values = self._status_in(state.allowed_sources(target))
        if attempt is not None:
            condition += " AND #attempt = :attempt"
            values[":attempt"] = {"S": attempt}
        if lapsed_by is not None:
            condition += " AND (attribute_not_exists(#lease) OR #lease <= :lapsed)"
            values[":lapsed"] = {"N": str(lapsed_by)}
        if unclaimed_by is not None:
            condition += " AND attribute_not_exists(#attempt) AND (attribute_not_exists(#queued) OR #queued <= :queued)"
            values[":queued"] = {"N": str(unclaimed_by)}
        return self._update(job_id, {"status": target.value, **(changes or {})}, condition, values)

    def mark_validated(self, job_id: str, *, at: int) -> bool:
        values = {":succeeded": {"S": JobStatus.SUCCEEDED.value}}
        return self._update(job_id, {"validated_at": at}, "#status = :succeeded", values) is not None

    def extend_pending(self, job_id: str, *, expires_at: int) -> bool:
        # #f0/:v0 name the first value set (expires_at): only ever moved later.
        condition = "#status = :pending AND #f0 < :v0"
        values = {":pending": {"S": JobStatus.PENDING.value}}
        if self._update(job_id, {"expires_at": expires_at}, condition, values) is not None:
            return True
        job = self.get(job_id)  # not changed: later already, or not PENDING any more
        return job is not None and job.status is JobStatus.PENDING

    def claim(self, job_id: str, *, attempt: str, lease_until: int, now: int, run_id: str | None = None) -> Job | None:
        condition, values = self._status_in(state.CLAIMABLE)
        condition += " AND (attribute_not_exists(#lease) OR #lease <= :now)"
        values[":now"] = {"N": str(now)}
        changes: dict[str, Any] = {
            "status": JobStatus.RUNNING.value,
            "attempt": attempt,
            "lease_expires_at": lease_until,
        }
        if run_id is not None:
            changes["run_id"] = run_id
        return self._update(job_id, changes, condition, values)

    def relaunch(self, job_id: str, *, relaunches: int, queued_by: int, now: int) -> Job | None:
        condition = "#status = :queued_status AND (attribute_not_exists(#queued) OR #queued <= :queued_by)"
        # A job stored before relaunches were counted has no such attribute: 0 relaunches.
        counted = "#relaunches = :relaunches"
        condition += f" AND (attribute_not_exists(#relaunches) OR {counted})" if relaunches == 0 else f" AND {counted}"
        values = {
            ":queued_status": {"S": JobStatus.QUEUED.value},
            ":queued_by": {"N": str(queued_by)},
            ":relaunches": {"N": str(relaunches)},
        }
        return self._update(job_id, {"relaunches": relaunches + 1, "queued_at": now}, condition, values)

    def renew(self, job_id: str, *, attempt: str, lease_until: int) -> bool:
        condition = "#status = :running AND #attempt = :attempt"
        values = {":running": {"S": JobStatus.RUNNING.value}, ":attempt": {"S": attempt}}
        return self._update(job_id, {"lease_expires_at": lease_until}, condition, values) is not None

    def delete(
        self,
        job_id: str,
        *,
        unless: frozenset[JobStatus] = frozenset(),
        expired_by: int | None = None,
        leased_after: int | None = None,
    ) -> bool:
        condition = "attribute_exists(job_id)"
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if unless:
            blocked, values = self._status_in(unless)
            condition += f" AND NOT {blocked}"
            names["#status"] = "status"
        if expired_by is not None:
            condition += " AND #expires <= :expired_by"
            names["#expires"] = "expires_at"
            values[":expired_by"] = {"N": str(expired_by)}
        if leased_after is not None:
            # A missing lease compares false: an unclaimed job holds no live run.
            active, active_values = self._status_in(state.ACTIVE, prefix=":a")
            condition += f" AND NOT ({active} AND #lease > :leased_after)"
            names.update({"#status": "status", "#lease": "lease_expires_at"})
            values.update({**active_values, ":leased_after": {"N": str(leased_after)}})
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"job_id": {"S": job_id}},
            "ConditionExpression": condition,
        }
        if names:
            request["ExpressionAttributeNames"] = names
            request["ExpressionAttributeValues"] = values
        try:
            self.db.delete_item(**request)
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def count_active(self, owner: str, *, now: int) -> int:
        return len(self._active_ids(owner, now))

    def _active_ids(self, owner: str, now: int) -> list[str]:
        # The owner's items through the by_owner index, filtered server-side: a user has at
        # most a few hundred job records (they expire), so this stays small.
        condition, values = self._status_in(state.UNFINISHED)
        values.update({":o": {"S": owner}, ":now": {"N": str(now)}})
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": self.OWNER_INDEX,
            "ProjectionExpression": "job_id",
            "KeyConditionExpression": "#o = :o",
            "FilterExpression": f"{condition} AND (attribute_not_exists(#expires) OR #expires > :now)",
            "ExpressionAttributeNames": {"#o": "owner", "#status": "status", "#expires": "expires_at"},
            "ExpressionAttributeValues": values,
        }
        ids: list[str] = []
        for _ in range(1000):  # bounded: 1000 pages of 1 MB is far beyond any one user's jobs
            response = self.db.query(**request)
            ids.extend(item["job_id"]["S"] for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return ids

    def _scan_ids(self, condition: str, names: dict[str, str], values: dict[str, Any], limit: int) -> list[str]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "ProjectionExpression": "job_id",
            "FilterExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        ids: list[str] = []
        for _ in range(10_000):  # bounded: stops at the end of the table
            response = self.db.scan(**request)
            ids.extend(item["job_id"]["S"] for item in response.get("Items", []))
            if len(ids) >= limit or "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return ids[:limit]

    def expired_ids(self, *, now: int, limit: int) -> list[str]:
        # DynamoDB's TTL deletes expired records itself (within days); this finds the ones
        # not deleted yet, so their files can go too.
        return self._scan_ids("#expires <= :now", {"#expires": "expires_at"}, {":now": {"N": str(now)}}, limit)

    def ids_in(self, statuses: frozenset[JobStatus]) -> list[str]:
        if statuses <= state.ACTIVE:  # the sparse index holds exactly these: no scan
            return [job_id for status in sorted(statuses) for job_id in self._active_ids_in(status)]
        condition, values = self._status_in(statuses)
        return self._scan_ids(condition, {"#status": "status"}, values, limit=1_000_000)

    def _active_ids_in(self, status: JobStatus) -> list[str]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": ACTIVE_INDEX,
            "KeyConditionExpression": "#a = :s",
            "ExpressionAttributeNames": {"#a": ACTIVE_KEY},
            "ExpressionAttributeValues": {":s": {"S": status.value}},
        }
        ids: list[str] = []
        for _ in range(10_000):  # bounded: stops at the end of the index
            response = self.db.query(**request)
            ids.extend(item[JOB_KEY]["S"] for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return ids


class GlueJobLauncher(JobLauncher):
    """Starts runs of the Glue job, each sized by its input (:func:`run_capacity`).

    The job runs with Glue Auto Scaling (``--enable-auto-scaling``, a default argument of the
    job): a run's ``NumberOfWorkers`` is the most it may scale out to, and Glue releases the
    workers it does not need, charging for the DPU-seconds used.
    """

    def __init__(self, client: Any, job_name: str, sizing: GlueSizing | None = None) -> None:
        self.glue = client
        self.job_name = job_name
        self.sizing = sizing or GlueSizing()

    def start(self, arguments: Mapping[str, str], spec: RunSpec | None = None) -> str:
        spec = spec or RunSpec()
        capacity = run_capacity(spec.input_bytes, self.sizing, spec.execution_class)
        run_id: str = self.glue.start_job_run(
            JobName=self.job_name,
            Arguments=dict(arguments),
            WorkerType=capacity.worker_type,
            NumberOfWorkers=capacity.workers,
            ExecutionClass=capacity.execution_class.glue_name,
        )["JobRunId"]
        return run_id

    def _run(self, run_id: str) -> Any:
        try:
            return self.glue.get_job_run(JobName=self.job_name, RunId=run_id)["JobRun"]
        except self.glue.exceptions.EntityNotFoundException:
            return None

    def arguments_of(self, run_id: str) -> dict[str, str] | None:
        run = self._run(run_id)
        return None if run is None else dict(run.get("Arguments", {}))

    def usage(self, run_id: str) -> RunUsage | None:
        """GetJobRun's account of an ended run: ``DPUSeconds`` where Glue gives it (Auto
        Scaling and Flex runs), else ``ExecutionTime`` times the run's workers."""
        run = self._run(run_id)
        if run is None:
            return None
        units, source = glue_dpu_seconds(
            dpu_seconds=run.get("DPUSeconds"),
            execution_seconds=int(run.get("ExecutionTime", 0)),
            worker_type=run.get("WorkerType"),
            workers=run.get("NumberOfWorkers"),
        )
        glue_class = str(run.get("ExecutionClass") or ExecutionClass.STANDARD.glue_name)
        return RunUsage(
            dpu_seconds=units,
            source=source,
            execution_class=ExecutionClass(glue_class.lower()),
            worker_type=run.get("WorkerType"),
            workers=run.get("NumberOfWorkers"),
        )

    def run_state(self, run_id: str) -> str | None:
        try:
            run = self.glue.get_job_run(JobName=self.job_name, RunId=run_id)["JobRun"]
        except self.glue.exceptions.EntityNotFoundException:
            return None
        state_: str | None = run.get("JobRunState")
        return state_


class LambdaLauncher(JobLauncher):
    """Starts a local-engine run: an asynchronous invocation of the converter Lambda.

    Asynchronous (``InvocationType=Event``) because the events Lambda must not wait for the
    conversion; Lambda retries a crashed run, then reports it to the on-failure
    destination, which fails the job (:meth:`JobService.on_run_lost`).
    """

    def __init__(self, client: Any, function_name: str) -> None:
        self.lambda_ = client
        self.function_name = function_name

    def start(self, arguments: Mapping[str, str], spec: RunSpec | None = None) -> str:
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


# --- Credentials scoped to one job ---------------------------------------------------------
# A run parses an untrusted file: it works with credentials that reach that job's objects and
# record only. The process's own role may only assume the run role (plus logs and traces);
# the run role may reach every job; the session policy passed with AssumeRole cuts the
# session down to one job (a session's permissions are the intersection of both).

RUN_SESSION_SECONDS = 3600
"""How long a run's scoped credentials last: the most a role assumed by a role may have (role
chaining), above the converter's 900 s and the Glue job's 60-minute timeout."""
CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
"""Where boto3 and pyarrow's S3 filesystem (driver and executors) read credentials first."""


def job_session_policy(
    job_id: str,
    *,
    input_bucket: str,
    output_bucket: str,
    table_arn: str,
    partition: str = "aws",
    catalog_database: str = "",
    source_buckets: tuple[str, ...] = (),
    source_databases: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The session policy of a run of ``job_id``: its upload (read), its outputs folder (read,
    write, delete, multipart: staging and publication), listing only under those two folders,
    its own item in the jobs table (``dynamodb:LeadingKeys``), and, when outputs are
    registered (``catalog_database``), its own attempts' tables in that database; and the
    deployment's allow-listed sources, read only (a data engineer's job reads one in place)."""
    s3 = f"arn:{partition}:s3:::"
    job_input, job_outputs = f"inputs/{job_id}/", f"outputs/{job_id}/"
    tables = []
    if catalog_database:
        from etl_lib.jobs.catalog import REGISTER_ACTIONS, table_name

        # The table's ARN from the table's own name rule: job_<job>_<attempt>, any attempt.
        glue = table_arn.split(":dynamodb:", 1)[1].split(":table/", 1)[0]  # region:account
        glue_arn = f"arn:{partition}:glue:{glue}:"
        tables = [
            {
                "Sid": "TheJobsTablesOnly",
                "Effect": "Allow",
                "Action": list(REGISTER_ACTIONS),
                "Resource": [
                    f"{glue_arn}catalog",
                    f"{glue_arn}database/{catalog_database}",
                    f"{glue_arn}table/{catalog_database}/{table_name(job_id, '')}*",
                ],
            }
        ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTheJobsUpload",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{s3}{input_bucket}/{job_input}*"],
            },
            {
                "Sid": "WriteTheJobsOutputs",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                "Resource": [f"{s3}{output_bucket}/{job_outputs}*"],
            },
            {
                "Sid": "ListOnlyTheJobsFolders",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"{s3}{input_bucket}", f"{s3}{output_bucket}"],
                "Condition": {"StringLike": {"s3:prefix": [f"{job_input}*", f"{job_outputs}*"]}},
            },
            {
                "Sid": "TheJobsRecordOnly",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
                "Resource": [table_arn],
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [job_id]}},
            },
            *tables,
            *_source_statements(partition, table_arn, source_buckets, source_databases),
        ],
    }


def _source_statements(
    partition: str, table_arn: str, buckets: tuple[str, ...], databases: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Reads of the allow-listed sources (what infra/pipeline/sources.py grants the run role)."""
    statements: list[dict[str, Any]] = []
    if buckets:
        s3 = f"arn:{partition}:s3:::"
        statements.append(
            {
                "Sid": "ReadTheAllowedSources",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [arn for b in sorted(buckets) for arn in (f"{s3}{b}", f"{s3}{b}/*")],
            }
        )
    if databases:
        region_account = table_arn.split(":dynamodb:", 1)[1].split(":table/", 1)[0]
        glue = f"arn:{partition}:glue:{region_account}:"
        resources = [f"{glue}catalog"]
        for database in sorted(databases):
            resources += [f"{glue}database/{database}", f"{glue}table/{database}/*"]
        statements.append(
            {
                "Sid": "ReadTheAllowedTables",
                "Effect": "Allow",
                "Action": ["glue:GetTable", "glue:GetPartitions"],
                "Resource": resources,
            }
        )
    return statements


def assume_for_job(
    sts: Any,
    role_arn: str,
    job_id: str,
    *,
    input_bucket: str,
    output_bucket: str,
    table: str,
    region: str,
    catalog_database: str = "",
    source_buckets: tuple[str, ...] = (),
    source_databases: tuple[str, ...] = (),
) -> dict[str, str]:
    """Credentials of ``role_arn`` scoped to ``job_id`` by :func:`job_session_policy`, as the
    environment variables that carry them (:data:`CREDENTIAL_ENV`). ``sts`` is a client with
    the process's own credentials (the only ones allowed to assume the role)."""
    _, partition, _, _, account, _ = role_arn.split(":", 5)
    table_arn = f"arn:{partition}:dynamodb:{region}:{account}:table/{table}"
    policy = job_session_policy(
        job_id,
        input_bucket=input_bucket,
        output_bucket=output_bucket,
        table_arn=table_arn,
        partition=partition,
        catalog_database=catalog_database,
        source_buckets=source_buckets,
        source_databases=source_databases,
    )
    credentials = sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName=f"job-{job_id}"[:64],
        Policy=json.dumps(policy, separators=(",", ":")),
        DurationSeconds=RUN_SESSION_SECONDS,
    )["Credentials"]
    return dict(
        zip(
            CREDENTIAL_ENV,
            (credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]),
            strict=True,
        )
    )
