"""The per-user limit on unfinished jobs is a guarantee, not a count: creations racing for
the last place never let a user past it, on SQLite and on DynamoDB (moto's server); jobs that
end, are deleted or expire free their place."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from etl_lib.errors import TooManyActiveJobsError, TooManySparkJobsError
from etl_lib.jobs import state
from etl_lib.jobs.models import Job, JobError, JobStatus
from etl_lib.jobs.service import JobService
from etl_lib.options import ConvertOptions, Engine
from tests.jobs.support import AwsResources, dynamo_service, together

LIMIT = 3
RACERS = 8
ROUNDS = 6


def limited(make_service: Callable[[], JobService]) -> JobService:
    service = make_service()
    service.limits = dataclasses.replace(service.limits, max_active_jobs_per_user=LIMIT)
    return service


def create(service: JobService, owner: str) -> Job | TooManyActiveJobsError:
    try:
        job, _ = service.create_job(owner, filename="a.parquet", size=100, options=ConvertOptions())
    except TooManyActiveJobsError as exc:
        return exc
    return job


def unfinished(service: JobService, owner: str) -> list[Job]:
    page = service.jobs.list_for_owner(owner, limit=100)
    now = service.clock()
    return [j for j in page.jobs if j.status in state.UNFINISHED and not j.is_expired(now)]


def test_creations_racing_for_the_last_place_let_exactly_one_in(make_service: Callable[[], JobService]) -> None:
    service = limited(make_service)
    owner = "racer"
    for _ in range(LIMIT - 1):
        assert isinstance(create(service, owner), Job)
    for round_ in range(ROUNDS):
        if round_:  # free exactly one place: the oldest unfinished job ends
            oldest = unfinished(service, owner)[-1]
            service.fail(oldest.job_id, JobError(code="UPLOAD_MISSING", message="no upload"))
        results = together(RACERS, lambda: create(service, owner))
        created = [r for r in results if isinstance(r, Job)]
        refused = [r for r in results if isinstance(r, TooManyActiveJobsError)]
        assert (len(created), len(refused)) == (1, RACERS - 1), f"round {round_}"
        assert len(unfinished(service, owner)) == LIMIT
    assert service.jobs.count_active(owner, now=int(service.clock())) == LIMIT


def test_a_full_user_racing_gets_only_refusals_and_others_are_not_affected(
    make_service: Callable[[], JobService],
) -> None:
    service = limited(make_service)
    for _ in range(LIMIT):
        assert isinstance(create(service, "full"), Job)
    results = together(RACERS, lambda: create(service, "full"))
    assert all(isinstance(r, TooManyActiveJobsError) for r in results)
    assert len(unfinished(service, "full")) == LIMIT
    assert isinstance(create(service, "someone-else"), Job)


def test_deleted_finished_and_expired_jobs_free_their_places(make_service: Callable[[], JobService]) -> None:
    service = limited(make_service)
    owner = "freer"
    jobs = [create(service, owner) for _ in range(LIMIT)]
    assert all(isinstance(j, Job) for j in jobs)
    assert isinstance(create(service, owner), TooManyActiveJobsError)

    first, second, third = (j for j in jobs if isinstance(j, Job))
    service.delete_job(owner, first.job_id)  # a PENDING job its owner deleted
    assert isinstance(create(service, owner), Job)
    assert isinstance(create(service, owner), TooManyActiveJobsError)

    service.fail(second.job_id, JobError(code="UPLOAD_MISSING", message="no upload"))  # a job that ended
    assert isinstance(create(service, owner), Job)
    assert isinstance(create(service, owner), TooManyActiveJobsError)

    # Every PENDING job's upload URL has long expired: they no longer hold places.
    real_clock = service.clock
    assert third.expires_at is not None
    service.clock = lambda: float(third.expires_at or 0) + 3600 * 24
    try:
        assert isinstance(create(service, owner), Job)
    finally:
        service.clock = real_clock


def test_a_job_that_moves_on_keeps_its_place_until_it_ends(make_service: Callable[[], JobService]) -> None:
    service = limited(make_service)
    owner = "mover"
    jobs = [create(service, owner) for _ in range(LIMIT)]
    job = jobs[0]
    assert isinstance(job, Job)
    queued = service.jobs.transition(job.job_id, JobStatus.QUEUED, {"expires_at": service.context.retained()})
    assert queued is not None
    assert isinstance(create(service, owner), TooManyActiveJobsError)
    assert service.jobs.transition(job.job_id, JobStatus.FAILED) is not None
    assert isinstance(create(service, owner), Job)


def test_the_scheduled_validation_never_takes_a_places_item_for_a_job(aws_resources: AwsResources) -> None:
    """It scans the DynamoDB table's keys, which include each user's places item."""
    import boto3

    from etl_lib.jobs.aws import DynamoJobStore
    from etl_lib.notebook.validate_jobs import dynamo_jobs

    client = boto3.client("dynamodb")
    service = limited(lambda: dynamo_service(aws_resources))
    job = create(service, "scanned")
    assert isinstance(job, Job)
    keys = [i["job_id"]["S"] for i in client.scan(TableName=aws_resources.table)["Items"]]
    assert sorted(keys) == sorted([job.job_id, f"{DynamoJobStore.PLACES_PREFIX}scanned"])
    assert [j.job_id for j in dynamo_jobs(client, aws_resources.table)] == [job.job_id]


SPARK_LIMIT = 2


def spark_limited(make_service: Callable[[], JobService]) -> JobService:
    service = make_service()
    service.limits = dataclasses.replace(
        service.limits, max_active_jobs_per_user=10, max_spark_jobs_per_user=SPARK_LIMIT
    )
    service.engine = Engine.AUTO  # as deployed: "auto" requests route by size
    return service


def create_on(service: JobService, owner: str, *, engine: str = "auto", size: int = 100) -> Job | Exception:
    try:
        job, _ = service.create_job(owner, filename="a.parquet", size=size, options=ConvertOptions(), engine=engine)
    except TooManyActiveJobsError as exc:
        return exc
    return job


def test_one_user_cannot_hold_more_spark_jobs_than_the_spark_limit(make_service: Callable[[], JobService]) -> None:
    """Asked for (engine "spark") or routed there by size, Spark jobs count; single-machine
    jobs do not, and other users are not affected."""
    service = spark_limited(make_service)
    large = service.small_file_threshold_bytes + 1
    assert isinstance(create_on(service, "heavy", engine="spark"), Job)
    assert isinstance(create_on(service, "heavy", size=large), Job)
    refused = create_on(service, "heavy", engine="spark")
    assert isinstance(refused, TooManySparkJobsError)
    assert refused.code == "TOO_MANY_SPARK_JOBS" and refused.status == 429
    assert isinstance(create_on(service, "heavy", size=large), TooManySparkJobsError)
    assert isinstance(create_on(service, "heavy"), Job), "a small file still runs"
    assert isinstance(create_on(service, "someone-else", engine="spark"), Job)


def test_creations_racing_for_the_last_spark_place_let_exactly_one_in(make_service: Callable[[], JobService]) -> None:
    service = spark_limited(make_service)
    assert isinstance(create_on(service, "racer", engine="spark"), Job)
    results = together(RACERS, lambda: create_on(service, "racer", engine="spark"))
    created = [r for r in results if isinstance(r, Job)]
    refused = [r for r in results if isinstance(r, TooManySparkJobsError)]
    assert (len(created), len(refused)) == (1, RACERS - 1)
    spark_jobs = [j for j in unfinished(service, "racer") if service.runs_on_spark(j)]
    assert len(spark_jobs) == SPARK_LIMIT
