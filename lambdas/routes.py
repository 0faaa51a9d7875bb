"""The API's routes, once: the handlers' routers, the API Gateway resources (infra/pipeline/
api.py) and the local stack's gateway (devstack/etl_devstack/local/gateway.py) are all built from this
table, and tests fail if any of them has a route it does not list.

Light on purpose (no imports beyond the standard library): the CDK app and the local
server load it without loading any handler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    method: str
    resource: str
    """The API Gateway resource path, parameters in braces: ``/jobs/{job_id}``."""
    function: str
    """The Lambda that serves it: ``lambdas/<function>/handler.py``."""
    query: tuple[str, ...] = ()
    """Query string parameters it accepts (API Gateway validates their names)."""
    body: str = ""
    """The request model of its JSON body (a class of lambdas.common.models, by name), which
    API Gateway validates the body against; empty when it takes none."""

    @property
    def rule(self) -> str:
        """The path as Powertools' resolvers write it: ``/jobs/<job_id>``."""
        return re.sub(r"\{(\w+)\}", r"<\1>", self.resource)

    @property
    def parameters(self) -> tuple[str, ...]:
        """The path parameters, in order."""
        return tuple(re.findall(r"\{(\w+)\}", self.resource))

    def pattern(self) -> re.Pattern[str]:
        """What matches a request path of this route (one path segment per parameter)."""
        return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.resource)))


CREATE_JOB = Route("POST", "/jobs", "upload", body="CreateJobRequest")
# A data engineer's job on a dataset or catalog table read in place (no upload).
CREATE_SOURCE_JOB = Route("POST", "/jobs/source", "upload", body="CreateSourceJobRequest")
LIST_JOBS = Route("GET", "/jobs", "status", query=("limit", "next_token"))
GET_JOB = Route("GET", "/jobs/{job_id}", "status")
DELETE_JOB = Route("DELETE", "/jobs/{job_id}", "status")
DOWNLOAD = Route("GET", "/jobs/{job_id}/download", "download")
GET_REPORT = Route("GET", "/jobs/{job_id}/report", "status")
# A multipart upload (POST /jobs above the multipart threshold): its parts, one part's
# signed URL, completion.
LIST_PARTS = Route("GET", "/jobs/{job_id}/upload/parts", "upload")
SIGN_PART = Route("POST", "/jobs/{job_id}/upload/parts/{part_number}", "upload", body="PartUploadRequest")
COMPLETE_UPLOAD = Route("POST", "/jobs/{job_id}/upload/complete", "upload")

ROUTES: tuple[Route, ...] = (
    CREATE_JOB,
    CREATE_SOURCE_JOB,
    LIST_JOBS,
    GET_JOB,
    DELETE_JOB,
    DOWNLOAD,
    GET_REPORT,
    LIST_PARTS,
    SIGN_PART,
    COMPLETE_UPLOAD,
)
