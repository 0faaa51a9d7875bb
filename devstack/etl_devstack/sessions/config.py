"""``etl session-config``: the Glue session magics the notebooks load, for AWS or this machine.

The committed notebooks stay unchanged and output-free; their first cell loads
``%load_ext etl_lib.notebook.session_config``, which applies the magics written here to a
git-ignored file (:data:`CONFIG_NAME`, found from the notebook's directory upwards, or at
``$ETL_GLUE_SESSION_CONFIG``):

- for AWS, from the deployed stack's outputs (``cdk deploy --outputs-file`` JSON, or
  CloudFormation ``DescribeStacks``): ``%region``, ``%iam_role`` (the session role),
  ``%additional_python_modules`` (the very wheels the Glue job installs: the project's and its
  closure's, staged in the artifacts bucket) and ``%%configure`` with the job's pip options
  (``--no-index``: a session installs them without any index, as the job does),
  ``%glue_version 6.0``;
- for the local endpoint (``etl sessions``): an AWS profile whose ``endpoint_url`` is the
  endpoint, with the key of the endpoint's current start as its credentials (read from
  the endpoint's :data:`ENDPOINT_STATE` file; the endpoint refuses any other), in a
  private AWS config file. aws-glue-sessions 1.0.9
  passes an explicit ``https://sts.<region>.amazonaws.com`` to its STS client unless a
  profile is selected (it asks STS for the session owner), and with a profile it ignores
  ``%endpoint`` and lets botocore read the endpoint from the profile; so ``%profile`` is
  the one way that sends all of the kernel's calls to a local endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from etl_devstack.sessions.guard import SECRET_ACCESS_KEY
from etl_lib.notebook.session_config import CONFIG_NAME
from etl_lib.platform import DEFAULT_DATA_DIR, GLUE_VERSION

# Stack outputs (infra/stack.py declares them with these names).
OUTPUT_SESSION_ROLE = "GlueSessionRoleArn"
OUTPUT_WHEEL = "GlueWheelS3Uri"
OUTPUT_MODULES = "GluePythonModules"
OUTPUT_INSTALLER_OPTION = "GluePythonModulesInstallerOption"
OUTPUT_REGION = "Region"
LOCAL_PROFILE = "etl-local-sessions"
# Where `etl sessions` keeps its sessions and, while it runs, its URL and key.
SESSIONS_DIR = f"{DEFAULT_DATA_DIR}/sessions"
ENDPOINT_STATE = "endpoint.json"
LOCAL_REGION = "us-east-1"
# moto's default account; the local endpoint accepts any role ARN.
LOCAL_ROLE = "arn:aws:iam::123456789012:role/etl-local-glue-session"


class SessionConfigError(Exception):
    """The stack outputs lack what a session needs (one line, says what to do)."""


def aws_magics(outputs: Mapping[str, str], region: str | None = None) -> list[str]:
    """The magics of a session on AWS from the stack's outputs."""
    needed = (OUTPUT_SESSION_ROLE, OUTPUT_MODULES, OUTPUT_INSTALLER_OPTION)
    missing = [name for name in needed if not outputs.get(name)]
    if missing:
        raise SessionConfigError(f"the stack outputs lack {', '.join(missing)}: deploy this version (make deploy)")
    region = region or outputs.get(OUTPUT_REGION)
    if not region:
        raise SessionConfigError("no region: pass --region or deploy a stack that outputs Region")
    return [
        f"%region {region}",
        f"%iam_role {outputs[OUTPUT_SESSION_ROLE]}",
        f"%glue_version {GLUE_VERSION}",
        f"%additional_python_modules {outputs[OUTPUT_MODULES]}",
        # A cell magic (the kernel has no line magic for it): the rest is the cell.
        "%%configure " + json.dumps({"--python-modules-installer-option": outputs[OUTPUT_INSTALLER_OPTION]}),
    ]


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable and writable by this user only (it holds a key)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)


def write_endpoint_state(work_dir: Path, url: str, access_key_id: str) -> Path:
    """Record a running endpoint's URL and key in ``work_dir`` (the endpoint does, at start)."""
    work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = work_dir / ENDPOINT_STATE
    _write_private(path, json.dumps({"url": url, "access_key_id": access_key_id}) + "\n")
    return path


def remove_endpoint_state(work_dir: Path) -> None:
    (work_dir / ENDPOINT_STATE).unlink(missing_ok=True)


def read_endpoint_state(sessions_dir: Path, url: str) -> str:
    """The key of the endpoint serving ``url`` from ``sessions_dir``; a one-line error when
    none runs there, or another URL does."""
    path = sessions_dir / ENDPOINT_STATE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SessionConfigError(
            f"no local sessions endpoint runs from {sessions_dir} ({path} is missing): start it with "
            "`make sessions`, then run this again"
        ) from None
    if state.get("url") != url.rstrip("/"):
        raise SessionConfigError(f"the endpoint running from {sessions_dir} serves {state.get('url')}, not {url}")
    return str(state["access_key_id"])


def local_config(endpoint: str, folder: Path, *, access_key_id: str, wheel: str | None = None) -> dict[str, Any]:
    """The config for the local endpoint; writes its AWS config file, with the endpoint's
    key (``access_key_id``), into ``folder``."""
    aws_config = folder / (CONFIG_NAME + ".aws-config")
    _write_private(
        aws_config,
        f"[profile {LOCAL_PROFILE}]\n"
        f"region = {LOCAL_REGION}\n"
        f"endpoint_url = {endpoint}\n"
        f"aws_access_key_id = {access_key_id}\n"
        f"aws_secret_access_key = {SECRET_ACCESS_KEY}\n",
    )
    magics = [f"%profile {LOCAL_PROFILE}", f"%region {LOCAL_REGION}", f"%iam_role {LOCAL_ROLE}",
              f"%glue_version {GLUE_VERSION}"]  # fmt: skip
    if wheel:
        magics.append(f"%extra_py_files {Path(wheel).resolve() if '://' not in wheel else wheel}")
    return {"source": f"local endpoint {endpoint}", "env": {"AWS_CONFIG_FILE": str(aws_config.resolve())},
            "magics": magics}  # fmt: skip


def outputs_from_file(path: Path, stack: str | None = None) -> dict[str, str]:
    """Outputs of ``cdk deploy --outputs-file`` (``{stack: {key: value}}``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    stacks = {name: values for name, values in data.items() if isinstance(values, dict)}
    if stack is None:
        candidates = [name for name, values in stacks.items() if OUTPUT_SESSION_ROLE in values]
        if len(candidates) != 1:
            raise SessionConfigError(f"{path} holds {len(candidates)} stacks with a session role: pass --stack")
        stack = candidates[0]
    if stack not in stacks:
        raise SessionConfigError(f"{path} has no stack {stack}")
    return {str(k): str(v) for k, v in stacks[stack].items()}


def outputs_from_cloudformation(stack: str, cloudformation: Any = None) -> dict[str, str]:
    """Outputs of a deployed stack (CloudFormation ``DescribeStacks``)."""
    if cloudformation is None:
        import boto3

        cloudformation = boto3.client("cloudformation")
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def write_config(config: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "session-config",
        help="write the Glue session magics the notebooks load (from the deployed stack, or --local)",
        description=f"Write {CONFIG_NAME} (git-ignored): the magics the notebooks' first cell applies on the "
        "glue_pyspark kernel. Reads the stack outputs from --outputs-file (cdk deploy --outputs-file) or "
        "CloudFormation (--stack); --local points the kernel at `etl sessions` instead.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--outputs-file", type=Path, help="JSON written by cdk deploy --outputs-file")
    source.add_argument("--local", metavar="ENDPOINT", help="the local endpoint, e.g. http://127.0.0.1:8998")
    source.add_argument("--from-cloudformation", action="store_true", help="read --stack's outputs from AWS")
    p.add_argument("--stack", help="stack name (default: the one stack with a session role in --outputs-file)")
    p.add_argument("--region", help="AWS region (default: the stack's Region output)")
    p.add_argument("--wheel", help="with --local: a wheel for %%extra_py_files (default: the environment's etl_lib)")
    p.add_argument(
        "--sessions-dir",
        type=Path,
        default=Path(SESSIONS_DIR),
        help=f"with --local: the running endpoint's --work-dir, where its key is (default: {SESSIONS_DIR})",
    )
    p.add_argument("--config", type=Path, default=Path(CONFIG_NAME), help=f"where to write (default: ./{CONFIG_NAME})")


def run(args: argparse.Namespace) -> int:
    try:
        if args.local:
            key = read_endpoint_state(args.sessions_dir, args.local)
            config = local_config(args.local, args.config.parent, access_key_id=key, wheel=args.wheel)
        else:
            if args.outputs_file is not None:
                outputs = outputs_from_file(args.outputs_file, args.stack)
                source = f"{args.outputs_file} ({args.stack or 'stack with a session role'})"
            else:
                if not args.stack:
                    raise SessionConfigError("--from-cloudformation needs --stack NAME")
                outputs = outputs_from_cloudformation(args.stack)
                source = f"CloudFormation stack {args.stack}"
            config = {"source": source, "env": {}, "magics": aws_magics(outputs, args.region)}
    except (SessionConfigError, OSError, ValueError) as exc:
        print(f"etl session-config: error: {exc}", file=sys.stderr)
        return 2
    path = write_config(config, args.config)
    print(f"wrote {path}: " + "; ".join(config["magics"]), file=sys.stderr)
    return 0
