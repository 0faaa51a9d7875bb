"""The interfaces the job service depends on; AWS and local adapters implement them.

``ObjectStore`` (a bucket or a directory), ``JobStore`` (job records), ``JobLauncher`` (starts
conversion runs), ``JobMetrics`` (reports jobs that ended) and
``OutputCatalog`` (registers outputs as tables); ``PresignedPost`` is the
upload form an ``ObjectStore`` signs, ``PresignedPart`` one part of a multipart upload.

Keys are object keys inside one bucket (the input bucket or the output bucket); each
adapter instance is bound to one bucket (or one directory).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from etl_lib.jobs.models import Job, JobPage, JobStatus
from etl_lib.jobs.sizing import ExecutionClass


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]


@dataclass(frozen=True)
class PresignedPart:
    """A signed UploadPart: PUT the part's bytes to ``url`` with exactly ``headers``."""

    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class UploadedPart:
    """A part the store holds for a multipart upload (what S3's ListParts reports)."""

    part_number: int
    size: int
    etag: str
    # None only where the store does not report it: moto's ListParts leaves it out; S3 gives
    # it for every part of an upload created with a SHA-256 checksum, as ours are.
    checksum_sha256: str | None


class UploadGoneError(Exception):
    """The multipart upload does not exist (any more): completed, aborted, or never made."""


class PartsRefusedError(Exception):
    """The store refused to complete an upload from these parts (S3's InvalidPart...)."""


@dataclass(frozen=True)
class Column:
    """One table column: its Hive name and type, and the JSON key it reads."""

    name: str
    type: str
    key: str


@dataclass(frozen=True)
class ListedTable:
    """A table of the outputs' catalog as a listing gives it: its name, and when it was
    registered (epoch seconds; 0 when the catalog does not say)."""

    name: str
    created_at: float


@dataclass(frozen=True)
class OutputTable:
    """What is registered for one job's output."""

    name: str
    location: str
    """The output folder (``s3://bucket/outputs/<job>/<attempt>/data/`` or a local folder)."""
    columns: tuple[Column, ...]
    compressed: bool


class ObjectStore(ABC):
    """One bucket (AWS) or one directory (local)."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """What ``etl_lib.convert`` reads or writes for ``key`` (``s3://...`` or a path)."""

    def uri_for_write(self, key: str) -> str:
        """:meth:`uri`, made ready to be written (a local directory must exist first)."""
        return self.uri(key)

    @abstractmethod
    def presign_post(self, key: str, *, max_bytes: int, expires_in: int) -> PresignedPost:
        """A browser form upload of at most ``max_bytes`` to ``key``, valid ``expires_in`` s."""

    @abstractmethod
    def create_multipart(self, key: str) -> str:
        """Start a multipart upload to ``key`` whose parts carry a SHA-256 checksum; its id."""

    @abstractmethod
    def presign_part(
        self, key: str, upload_id: str, part_number: int, *, checksum_sha256: str, expires_in: int
    ) -> PresignedPart:
        """A signed UploadPart of part ``part_number`` whose bytes must have ``checksum_sha256``
        (base64 SHA-256): the store refuses a part whose bytes do not, or a request whose
        checksum header differs. Valid ``expires_in`` s."""

    @abstractmethod
    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """Every part the store holds for the upload, by part number; UploadGoneError."""

    @abstractmethod
    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        """Assemble ``parts`` (in order) into the object ``key``; UploadGoneError,
        PartsRefusedError. The object then exists, and its creation is announced like an
        upload's."""

    @abstractmethod
    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Discard the upload and its parts (no error if it is gone already)."""

    @abstractmethod
    def presign_get(self, key: str, *, download_name: str, expires_in: int) -> str:
        """A download URL for ``key`` saved as ``download_name``, valid ``expires_in`` s."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The object's size, or None when there is no such object."""

    @abstractmethod
    def version(self, key: str) -> str | None:
        """A token that changes whenever the object is replaced (S3's ETag), or None when
        there is no such object: a run checks that it read the upload that was checked."""

    @abstractmethod
    def read_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from offset ``start``."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def get_bytes(self, key: str) -> bytes | None: ...

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under ``prefix`` (no error if there is none)."""


@dataclass(frozen=True)
class Quota:
    """A limit within an owner's places: at most ``limit`` of the jobs that hold one may be
    jobs ``counts`` is true of (the Spark jobs, say). A new job ``counts`` is false of is
    never held back by it."""

    limit: int
    counts: Callable[[Job], bool]


class JobStore(ABC):
    """Durable job records. Status changes are conditional writes guarded by the state machine."""

    @abstractmethod
    def create(self, job: Job, *, max_active: int = 0, now: int = 0, quota: Quota | None = None) -> bool:
        """Store a new job (an existing ``job_id`` raises). With ``max_active``, only while its
        owner has fewer than that many jobs that :func:`etl_lib.jobs.state.holds_a_place` at
        ``now`` (epoch seconds); with ``quota``, only while fewer than ``quota.limit`` of
        those are jobs it counts (when it counts ``job``). Judged and written atomically, so
        creations racing for the last place let exactly one in. False (nothing written) when
        the owner is at a limit."""

    @abstractmethod
    def get(self, job_id: str) -> Job | None: ...

    @abstractmethod
    def list_for_owner(self, owner: str, *, limit: int, cursor: str | None = None) -> JobPage:
        """The owner's jobs, newest first; ``cursor`` is the previous page's ``next_cursor``."""

    @abstractmethod
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
        """Move the job to ``target`` (and set ``changes``) only if the state machine allows
        it from its current status and, when ``attempt`` is given, only if that attempt still
        holds the job; atomically. With ``lapsed_by`` (and ``attempt``), only if that
        attempt's lease ended at or before it (so a run that renewed is never touched); with
        ``unclaimed_by``, only if no attempt holds the job and it was queued (``queued_at``,
        a job without one counting as queued long ago) at or before it. Returns the updated
        job, or None when the job does not exist or a condition does not hold."""

    @abstractmethod
    def extend_pending(self, job_id: str, *, expires_at: int) -> bool:
        """Move a PENDING job's ``expires_at`` to ``expires_at`` (never earlier), atomically
        and only while it is PENDING: a multipart upload in progress keeps its job alive.
        True when the job is PENDING (changed or not)."""

    @abstractmethod
    def claim(self, job_id: str, *, attempt: str, lease_until: int, now: int, run_id: str | None = None) -> Job | None:
        """Make ``attempt`` the job's only run, atomically: the job must be QUEUED or RUNNING
        and hold no lease that is still valid at ``now`` (epoch seconds). The job becomes
        RUNNING with ``attempt``, ``lease_expires_at=lease_until`` (and ``run_id``).
        Returns the claimed job, or None when another attempt holds it or it has ended."""

    @abstractmethod
    def mark_validated(self, job_id: str, *, at: int) -> bool:
        """Record that the scheduled validation checked the job's output at ``at`` (epoch
        seconds), only while it is SUCCEEDED; True when marked."""

    @abstractmethod
    def relaunch(self, job_id: str, *, relaunches: int, queued_by: int, now: int) -> Job | None:
        """Count one more relaunch of a QUEUED job, atomically: only while it is QUEUED, has
        been relaunched ``relaunches`` times and was queued at or before ``queued_by`` (a job
        without ``queued_at`` counting as queued long ago). It is then relaunched
        ``relaunches + 1`` times and queued at ``now``. None when a condition does not hold
        (another reconciler relaunched it, or a run moved it on)."""

    @abstractmethod
    def renew(self, job_id: str, *, attempt: str, lease_until: int) -> bool:
        """Extend ``attempt``'s lease while it is RUNNING and still holds the job."""

    @abstractmethod
    def delete(
        self,
        job_id: str,
        *,
        unless: frozenset[JobStatus] = frozenset(),
        expired_by: int | None = None,
        leased_after: int | None = None,
    ) -> bool:
        """Delete the record unless its status is in ``unless`` (and, with ``expired_by``,
        only if its ``expires_at`` is at or before that time; with ``leased_after``, only
        unless it is QUEUED or RUNNING with a lease ending after that time: a live run
        holds it). True when deleted."""

    @abstractmethod
    def count_active(self, owner: str, *, now: int) -> int:
        """How many of the owner's jobs hold a place (unfinished and unexpired) at ``now``."""

    @abstractmethod
    def expired_ids(self, *, now: int, limit: int) -> list[str]:
        """Up to ``limit`` ids of jobs whose ``expires_at`` is at or before ``now``."""

    @abstractmethod
    def ids_in(self, statuses: frozenset[JobStatus]) -> list[str]:
        """Ids of the jobs in these statuses (restart recovery and supervision)."""


@dataclass(frozen=True)
class RunSpec:
    """What a run is sized by: its input's size, and the Glue execution class its job asked for."""

    input_bytes: int = 0
    execution_class: ExecutionClass = ExecutionClass.STANDARD


@dataclass(frozen=True)
class RunUsage:
    """What an ended run was charged for, as the service that ran it reports it."""

    dpu_seconds: float
    source: str  # etl_lib.report.RunCost.source
    execution_class: ExecutionClass
    worker_type: str | None
    workers: int | None


class JobLauncher(ABC):
    """Starts the conversion run (Glue or the converter Lambda in AWS, the local runner locally)."""

    @abstractmethod
    def start(self, arguments: Mapping[str, str], spec: RunSpec | None = None) -> str:
        """Start a run of the job script with ``arguments`` (``--name``: value); a launcher that
        sizes its runs sizes it by ``spec``. Returns the run id."""

    def usage(self, run_id: str) -> RunUsage | None:
        """What the ended run ``run_id`` was charged for; None where the launcher cannot say
        (the local runners cost nothing, the converter Lambda measures its own)."""
        return None

    @abstractmethod
    def arguments_of(self, run_id: str) -> dict[str, str] | None:
        """The arguments a run was started with (how a run's state change finds its job)."""

    def run_state(self, run_id: str) -> str | None:
        """The run's state as Glue names it (RUNNING, FAILED...), or None where the launcher
        cannot tell (an asynchronous Lambda invocation): how the reconciler recovers a run's
        lost state event."""
        return None


class JobMetrics(ABC):
    """Reports jobs that ended (CloudWatch: Powertools EMF in Lambdas, PutMetricData on Glue)."""

    @abstractmethod
    def job_ended(self, job: Job) -> None:
        """``job`` has just become SUCCEEDED or FAILED (called once per job)."""


class OutputCatalog(ABC):
    """Where SUCCEEDED outputs are registered as tables (the Glue Data Catalog in AWS, the
    local stack's SQLite catalog; see :mod:`etl_lib.jobs.catalog`). ``database`` names it."""

    database: str

    @abstractmethod
    def register(self, table: OutputTable) -> None:
        """Create the table (or, registered before under this name, replace it)."""

    @abstractmethod
    def drop(self, name: str) -> bool:
        """Delete the table; False when there is none (already gone is not an error)."""

    @abstractmethod
    def describe(self, name: str) -> dict[str, Any] | None:
        """The table as the catalog holds it (Glue's ``Table`` shape), or None."""

    @abstractmethod
    def listed(self, pattern: str, *, limit: int) -> list[ListedTable]:
        """Up to ``limit`` of the database's tables whose names match ``pattern`` (a regular
        expression, as Glue's ``GetTables`` takes it), read page by page."""
