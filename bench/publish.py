"""The publish of 20,000 pieces at 20 ms a call: ``etl_lib.output.s3_publish`` against moto's
S3 server with that latency added to every call (bench/slow_s3.py), in a process of its own.

    python bench/publish.py [--pieces 20000] [--latency-ms 20]

prints one JSON line: wall seconds of the publish, the publishing process's CPU seconds, the
server's CPU seconds meanwhile, the calls by operation, and the parts of the output.

The pieces are 1-2 KiB and moto's minimum part is lowered to 1 KiB to match (20,000 pieces of
5 MiB do not fit on one machine), so every piece is copied, never downloaded, and past
10,000 parts the neighbours are merged, as with real pieces: the calls of 20,000 pieces of 5
MiB or more, but for the merged objects' copies into the output (a few ranges of 5 GiB each
for real pieces, one copy here). What the latency does not model: S3's time to copy large
ranges, and moto's own time to answer (it answers one call at a time, in Python). What it
adds: werkzeug's server, under moto, closes every connection after one response, so each call
here also opens a connection, where an S3 client reuses its pool's; keeping them open is not
possible there (it drains the socket after each response, swallowing the next request).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import psutil
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
import s3_stub
import slow_s3

SERVERS = {"stub": s3_stub, "moto": slow_s3}
"""Where the calls go: bench/s3_stub.py (the figure against the target), or moto's server."""

BUCKET = "bench-publish"
MIN_PART = 1024


def measure(pieces: int, latency_ms: float, server_name: str = "stub") -> dict[str, Any]:
    from etl_lib.output.parts import PartLimits
    from etl_lib.output.s3_publish import PUBLISH_CALLS, publish_s3

    with SERVERS[server_name].running(min_part_bytes=MIN_PART) as server:
        endpoint = server.endpoint
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            region_name="us-east-1",
            config=Config(max_pool_connections=PUBLISH_CALLS),
        )
        s3.create_bucket(Bucket=BUCKET)
        sizes = [MIN_PART + (seq * 389) % MIN_PART for seq in range(pieces)]
        keys = [f"staging/piece-{seq:06d}" for seq in range(pieces)]
        with ThreadPoolExecutor(PUBLISH_CALLS) as pool:
            list(
                pool.map(
                    lambda i: s3.put_object(Bucket=BUCKET, Key=keys[i], Body=bytes([i % 251]) * sizes[i]), range(pieces)
                )
            )
        server.set_latency(latency_ms)
        calls: collections.Counter[str] = collections.Counter()
        s3.meta.events.register("provide-client-params.s3.*", lambda model, **_: calls.update([model.name]))
        host = psutil.Process(server.process.pid)
        server_cpu, cpu, start = sum(host.cpu_times()[:2]), time.process_time(), time.perf_counter()
        publish_s3(
            [f"s3://{BUCKET}/{key}" for key in keys],
            sizes,
            f"s3://{BUCKET}/out.jsonl",
            s3,
            limits=PartLimits(min_part=MIN_PART),
        )
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        server_cpu = sum(host.cpu_times()[:2]) - server_cpu
        made = dict(calls)  # the publish's own calls, not the checks below
        etag = s3.head_object(Bucket=BUCKET, Key="out.jsonl")["ETag"].strip('"')
        body = s3.get_object(Bucket=BUCKET, Key="out.jsonl")["Body"].read()
        identical = body == b"".join(bytes([i % 251]) * size for i, size in enumerate(sizes))
    return {
        "server": server_name,
        "pieces": pieces,
        "latency_ms": latency_ms,
        "threads": PUBLISH_CALLS,
        "wall_s": round(wall, 2),
        "publisher_cpu_s": round(cpu, 2),
        "server_cpu_s": round(server_cpu, 2),
        "calls": made,
        "parts": int(etag.rsplit("-", 1)[1]) if "-" in etag else 1,
        "identical": identical,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pieces", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--server", choices=sorted(SERVERS), default="stub")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.pieces, args.latency_ms, args.server)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
