"""How many Glue workers a run gets, and what a run cost: the formulas of docs/scaling.md.

Light on purpose (the standard library; pydantic only once a cost is validated): the events
Lambda sizes each run with it, the converter prices its own, and the CDK app imports its
defaults and worker types, so each figure is written once, here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from etl_lib._runtime.validated import NON_NEGATIVE, Validated


class ExecutionClass(StrEnum):
    """How urgently a job's Glue run is wanted. ``flex`` runs on spare capacity, cheaper, and
    may start later and take longer (Glue's FLEX execution class); ``standard`` is Glue's
    default. A job the local engine converts (the converter Lambda) ignores it."""

    STANDARD = "standard"
    FLEX = "flex"

    @property
    def glue_name(self) -> str:
        """What Glue's StartJobRun and GetJobRun call it (STANDARD, FLEX)."""
        return self.value.upper()


@dataclass(frozen=True)
class WorkerType:
    """One Glue worker type: the DPUs it is billed as, and its vCPUs (one executor each)."""

    dpu: int
    vcpus: int
    flex: bool


# Glue's Spark worker types (https://docs.aws.amazon.com/glue/latest/dg/worker-types.html):
# a DPU is 4 vCPUs and 16 GB; Flex runs only on G.1X and G.2X.
WORKER_TYPES: dict[str, WorkerType] = {
    "G.1X": WorkerType(dpu=1, vcpus=4, flex=True),
    "G.2X": WorkerType(dpu=2, vcpus=8, flex=True),
    "G.4X": WorkerType(dpu=4, vcpus=16, flex=False),
    "G.8X": WorkerType(dpu=8, vcpus=32, flex=False),
}

GLUE_MIN_WORKERS = 2
"""Glue's smallest Spark run: one driver and one executor worker."""

GLUE_MIN_BILLED_SECONDS = 60
"""Glue 2.0 and later bill per second with a 1-minute minimum per run."""

SPARK_BYTES_PER_CORE_SECOND = 9_000_000
"""``r_spark`` for sizing in docs/scaling.md: Parquet bytes one executor core converts per
second on the Spark path. The low end measured before its per-core cost was cut (9-13 MB/s;
69 MB/s on this project's machine since), kept until a Glue run measures it on Glue's vCPUs
reading from S3: a run is sized for the slower case."""

DEFAULT_TARGET_SECONDS = 300
"""How long a run's conversion step should take at most, if the ceiling allows: workers are
added until the input converts in this time at ``SPARK_BYTES_PER_CORE_SECOND`` per core."""

DEFAULT_WORKER_TYPES = ("G.1X", "G.2X")
DEFAULT_MAX_WORKERS = 10

# List prices (USD, eu-west-1 and us-east-1 at the time of writing): deployments set their own.
DEFAULT_GLUE_DPU_HOUR_USD = 0.44
DEFAULT_GLUE_FLEX_DPU_HOUR_USD = 0.29
DEFAULT_LAMBDA_GB_SECOND_USD = 0.0000166667


@dataclass(frozen=True)
class GlueSizing:
    """The deployment's bounds on a run's capacity (infra/config.py, through the settings)."""

    worker_types: tuple[str, ...] = DEFAULT_WORKER_TYPES
    min_workers: int = GLUE_MIN_WORKERS
    max_workers: int = DEFAULT_MAX_WORKERS
    target_seconds: int = DEFAULT_TARGET_SECONDS
    bytes_per_core_second: int = SPARK_BYTES_PER_CORE_SECOND

    def __post_init__(self) -> None:
        unknown = [t for t in self.worker_types if t not in WORKER_TYPES]
        if not self.worker_types or unknown:
            raise ValueError(f"Glue worker types must be some of {', '.join(WORKER_TYPES)}, not {unknown or 'none'}")
        if not any(WORKER_TYPES[t].flex for t in self.worker_types):
            raise ValueError("at least one Glue worker type must support Flex runs (G.1X or G.2X)")
        if not GLUE_MIN_WORKERS <= self.min_workers <= self.max_workers:
            raise ValueError(
                f"Glue workers: need {GLUE_MIN_WORKERS} <= minimum ({self.min_workers}) <= maximum ({self.max_workers})"
            )
        if self.target_seconds <= 0 or self.bytes_per_core_second <= 0:
            raise ValueError("the target time and the per-core throughput must be positive")


@dataclass(frozen=True)
class RunCapacity:
    """What one Glue run is started with: with Auto Scaling, ``workers`` is its ceiling."""

    worker_type: str
    workers: int
    execution_class: ExecutionClass = ExecutionClass.STANDARD


def run_capacity(
    input_bytes: int, sizing: GlueSizing, execution_class: ExecutionClass = ExecutionClass.STANDARD
) -> RunCapacity:
    """The workers (and their type) for a run over ``input_bytes`` of Parquet.

    ``cores = ceil(S / (r_spark x T))`` executor cores convert ``S`` bytes within the target
    time ``T``; a worker of ``v`` vCPUs is one executor of ``v`` cores, and one more worker is
    the driver: ``N = 1 + ceil(cores / v)``, at least ``min_workers``. The first worker type
    (smallest first) whose ``N`` fits under ``max_workers`` is chosen; when none does, the
    last at ``max_workers``. A Flex run considers only the types Flex runs on.
    """
    types = [t for t in sizing.worker_types if execution_class is ExecutionClass.STANDARD or WORKER_TYPES[t].flex]
    cores = math.ceil(max(input_bytes, 0) / (sizing.bytes_per_core_second * sizing.target_seconds))
    for name in types:
        workers = max(sizing.min_workers, 1 + math.ceil(cores / WORKER_TYPES[name].vcpus))
        if workers <= sizing.max_workers:
            return RunCapacity(name, workers, execution_class)
    return RunCapacity(types[-1], sizing.max_workers, execution_class)


@dataclass(frozen=True)
class Prices:
    """The deployment's prices (USD) the run report's estimated cost is computed at."""

    glue_dpu_hour: float = DEFAULT_GLUE_DPU_HOUR_USD
    glue_flex_dpu_hour: float = DEFAULT_GLUE_FLEX_DPU_HOUR_USD
    lambda_gb_second: float = DEFAULT_LAMBDA_GB_SECOND_USD

    def per_dpu_second(self, execution_class: ExecutionClass) -> float:
        hourly = self.glue_flex_dpu_hour if execution_class is ExecutionClass.FLEX else self.glue_dpu_hour
        return hourly / 3600


def glue_dpu_seconds(
    *, dpu_seconds: float | None, execution_seconds: int, worker_type: str | None, workers: int | None
) -> tuple[float, str]:
    """The DPU-seconds a Glue run was charged, and where the figure comes from.

    Glue reports ``DPUSeconds`` itself for Auto Scaling and Flex runs (its worker count
    changes during the run); for the others it is the run's ``ExecutionTime`` (at least the
    billed minute) times its workers times each worker's DPUs.
    """
    if dpu_seconds is not None:
        return float(dpu_seconds), "DPUSeconds"
    dpu = WORKER_TYPES[worker_type].dpu if worker_type in WORKER_TYPES else 1
    seconds = max(execution_seconds, GLUE_MIN_BILLED_SECONDS)
    return float(seconds * (workers or 0) * dpu), "ExecutionTime x workers"


def lambda_gb_seconds(memory_mb: int, duration_ms: float) -> float:
    """GB-seconds of a Lambda invocation: its memory (GB of 1,024 MB, as Lambda counts) times
    its duration rounded up to the millisecond, Lambda's billing granularity."""
    return memory_mb / 1024 * math.ceil(duration_ms) / 1000


@dataclass(frozen=True)
class RunCost(Validated):
    """What a job's run was charged for, and its cost at the deployment's prices: recorded
    once the run has ended (Glue's GetJobRun, or the converter Lambda's own duration)."""

    service: Literal["glue", "lambda"]
    units: Annotated[float, NON_NEGATIVE]
    """DPU-seconds (Glue) or GB-seconds (Lambda)."""
    unit: Literal["DPU-second", "GB-second"]
    source: str
    """Where ``units`` comes from: Glue's ``DPUSeconds``, ``ExecutionTime x workers``, or
    ``memory x duration`` (the converter's handler, rounded up to the millisecond)."""
    price_per_unit_usd: Annotated[float, NON_NEGATIVE]
    estimated_usd: Annotated[float, NON_NEGATIVE]
    execution_class: str | None = None
    """Glue's execution class of the run (STANDARD, FLEX); None for the Lambda."""
    worker_type: str | None = None
    workers: int | None = None
    """The run's workers as started: with Auto Scaling, the most it could use."""
    memory_mb: int | None = None
