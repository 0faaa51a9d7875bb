"""Publishing staged pieces as one S3 object: the calls that carry out a
:class:`~etl_lib.output.parts.PublishPlan`, :data:`PUBLISH_CALLS` at a time.

The pieces' sizes come from whoever wrote them (a Spark task reports its piece's size with
its result), so no piece is asked for its size. Every part is copied or uploaded on a
bounded pool; the object appears only when its upload completes, and on any failure every
upload started is aborted and every intermediate object deleted, so nothing is left at the
destination (an object already there is kept).

Why by hand: boto3's transfer manager (``s3transfer``) copies or uploads one object in
parallel parts, but does not concatenate several objects into one, which is the job here.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from etl_lib._runtime import fs
from etl_lib.output.parts import S3_LIMITS, Part, PartLimits, PublishPlan, Segment, Upload, plan_parts

PUBLISH_CALLS = 32
"""S3 calls one publication runs at once (a fixed pool; boto3 clients are thread-safe).

At 20-50 ms a call, 32 at once publish 20,000 pieces in 13-31 s of waiting, where one at a time
took 7-17 minutes; S3 serves thousands of requests a second per prefix, so this is far from
its limits. It also bounds memory: a part gathered from small pieces (under 10 MiB) is held
by one of at most 32 parts in flight, 320 MiB at worst. The client should keep as many
connections (``botocore.config.Config(max_pool_connections=PUBLISH_CALLS)``, as the default
client does), or urllib3 opens and drops connections beyond its pool of 10.
"""

Source = tuple[str, str] | bytes
"""An object to read from, as (bucket, key), or bytes already in memory (a prefix)."""


@dataclass
class _Multipart:
    bucket: str
    key: str
    upload_id: str


class _Publication:
    """One publication's pools and the uploads and objects it has created (to undo them)."""

    def __init__(self, s3: Any, sources: list[Source], calls: int) -> None:
        self.s3 = s3
        self.sources = sources
        # At most `calls` S3 calls at once, whichever thread makes them: a part makes its
        # own copy or upload on `parts`, and its ranged reads run on `reads`. A thread holds
        # a slot only for the call itself, never while it waits for others, so no part can
        # hold a slot its reads need. (Handing every call from the part's thread to a second
        # pool cost an eighth of the publisher's CPU in thread wake-ups at 20,000 copies.)
        self.slots = threading.BoundedSemaphore(calls)
        self.reads = ThreadPoolExecutor(calls, thread_name_prefix="s3-publish-read")
        self.parts = ThreadPoolExecutor(calls, thread_name_prefix="s3-publish-part")
        self.started: list[_Multipart] = []
        self.merged_keys: list[tuple[str, str]] = []

    def call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        """Make one S3 call in this thread, once fewer than ``calls`` are in flight."""
        with self.slots:
            return method(**kwargs)

    def start(self, bucket: str, key: str) -> _Multipart:
        upload_id = self.call(self.s3.create_multipart_upload, Bucket=bucket, Key=key)["UploadId"]
        upload = _Multipart(bucket, key, upload_id)
        self.started.append(upload)
        return upload

    def read(self, segment: Segment) -> bytes:
        """The bytes of ``segment``: a ranged GET, or a slice of bytes in memory."""
        source = self.sources[segment.source]
        if isinstance(source, bytes):
            return source[segment.start : segment.end]
        bucket, key = source
        with self.slots:  # the body is read within the call's slot: it holds the connection
            body = self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={segment.start}-{segment.end - 1}")["Body"]
            data: bytes = body.read()
        if len(data) != segment.size:
            raise OSError(f"s3://{bucket}/{key} holds fewer bytes than its writer reported")
        return data

    def gather(self, segments: Sequence[Segment]) -> bytes:
        """The segments' bytes, read in parallel, concatenated in order."""
        reads = [self.reads.submit(self.read, segment) for segment in segments]
        return b"".join(future.result() for future in reads)

    def part(self, upload: _Multipart, number: int, part: Part) -> dict[str, Any]:
        """Copy or upload part ``number`` of ``upload``; its entry for the completion."""
        target = {"Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.upload_id, "PartNumber": number}
        (first, *others) = part.segments
        source = self.sources[first.source]
        if not others and not isinstance(source, bytes):
            bucket, key = source
            # Always a range: S3 refuses one past the object's end, so a piece shorter than its
            # writer reported fails the copy instead of shortening the output.
            copy_range = f"bytes={first.start}-{first.end - 1}"
            answer = self.call(
                self.s3.upload_part_copy,
                CopySource={"Bucket": bucket, "Key": key},
                CopySourceRange=copy_range,
                **target,
            )
            return {"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]}
        answer = self.call(self.s3.upload_part, Body=self.gather(part.segments), **target)
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def submit_parts(self, upload: _Multipart, plan: Upload, which: Callable[[Part], bool]) -> list[Future[Any]]:
        return [
            self.parts.submit(self.part, upload, number, part)
            for number, part in enumerate(plan.parts, start=1)
            if which(part)
        ]

    def complete(self, upload: _Multipart, entries: list[Future[Any]]) -> None:
        parts = sorted((future.result() for future in entries), key=lambda entry: entry["PartNumber"])
        self.call(
            self.s3.complete_multipart_upload,
            Bucket=upload.bucket,
            Key=upload.key,
            UploadId=upload.upload_id,
            MultipartUpload={"Parts": parts},
        )
        self.started.remove(upload)

    def run(self, plan: PublishPlan, bucket: str, key: str, merged_prefix: str) -> None:
        """Every upload of ``plan``: the intermediates' parts and the final parts copied
        from pieces together, then the final parts copied from the completed intermediates."""
        pieces = len(plan.sizes)
        final = self.start(bucket, key)
        intermediates = []
        for index in range(len(plan.merged)):
            merged_key = f"{merged_prefix}/merged-{index:05d}"
            intermediates.append(self.start(bucket, merged_key))
            self.sources.append((bucket, merged_key))

        def from_pieces(part: Part) -> bool:
            return all(segment.source < pieces for segment in part.segments)

        first = [
            self.submit_parts(upload, merged, from_pieces)
            for upload, merged in zip(intermediates, plan.merged, strict=True)
        ]
        direct = self.submit_parts(final, plan.final, from_pieces)
        for upload, entries in zip(intermediates, first, strict=True):
            self.complete(upload, entries)
            self.merged_keys.append((upload.bucket, upload.key))
        later = self.submit_parts(final, plan.final, lambda part: not from_pieces(part))
        self.complete(final, direct + later)

    def close(self, *, failed: bool) -> None:
        """Stop the pools; abort what was started and delete the intermediate objects."""
        self.parts.shutdown(wait=True, cancel_futures=failed)
        self.reads.shutdown(wait=True, cancel_futures=failed)
        for upload in self.started:
            with contextlib.suppress(Exception):
                self.s3.abort_multipart_upload(Bucket=upload.bucket, Key=upload.key, UploadId=upload.upload_id)
        for bucket, key in self.merged_keys:
            with contextlib.suppress(Exception):
                self.s3.delete_object(Bucket=bucket, Key=key)


def publish_s3(
    pieces: Sequence[str],
    sizes: Sequence[int],
    dest: str,
    s3: Any,
    *,
    prefix: bytes = b"",
    limits: PartLimits = S3_LIMITS,
    calls: int = PUBLISH_CALLS,
) -> int:
    """Concatenate ``prefix`` and the S3 objects ``pieces`` of ``sizes`` bytes, in order,
    into the object ``dest``, created only if every step succeeds. Returns its size.

    An output under ``limits.min_part`` is written by one ``PutObject`` (atomic too);
    anything larger by the multipart uploads of :func:`~etl_lib.output.parts.plan_parts`.
    """
    if len(sizes) != len(pieces):
        raise ValueError(f"{len(pieces)} pieces but {len(sizes)} sizes")
    bucket, key = fs.split_s3(dest)
    sources: list[Source] = [*([prefix] if prefix else []), *(fs.split_s3(piece) for piece in pieces)]
    plan = plan_parts([*([len(prefix)] if prefix else []), *sizes], limits)
    publication = _Publication(s3, sources, calls)
    failed = True
    try:
        if plan.total < limits.min_part:  # one small object: a single PUT is atomic too
            segments = [segment for part in plan.final.parts for segment in part.segments]
            publication.call(s3.put_object, Bucket=bucket, Key=key, Body=publication.gather(segments))
        else:
            # A private place beside the destination for the intermediate objects, if any.
            publication.run(plan, bucket, key, f"{key}.merge-{uuid.uuid4().hex[:12]}")
        failed = False
    finally:
        publication.close(failed=failed)
    return plan.total
