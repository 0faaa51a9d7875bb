"""Asset directories assembled from the repository in plain Python: no Docker, no network.

* Lambda code: one directory holding ``lambdas/`` and ``etl_lib/`` (every function shares it,
  so it is uploaded once). Third-party wheels (pyarrow, pydantic...) cannot be fetched at synth
  time offline, so `make lambda-bundle` pip-installs manylinux wheels into
  ``build/infra/lambda-bundle`` beforehand; when that bundle exists (and context allows it) it is
  used, otherwise the source-only directory is (tests, CI, `cdk diff`).
* Glue artifacts: the job script plus a pure-Python wheel of ``etl_lib`` built here (a wheel is
  only a zip with a dist-info folder), with a fixed timestamp so the asset hash only changes when
  the sources do, and the wheels of everything that wheel needs on Glue (its runtime closure at
  constraints.txt's pins), for Glue's platform. Those come from PyPI once, at install time
  (`make wheelhouse` into :data:`GLUE_WHEELHOUSE_DIR`); synth only reads them, so a Glue run
  installs from the artifacts bucket alone and never reaches an index (a VPC-mode job cannot).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from etl_lib.platform import PYTHON_VERSION

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "infra"
LAMBDA_SOURCE_DIR = BUILD / "lambda-source"
LAMBDA_BUNDLE_DIR = BUILD / "lambda-bundle"
BUNDLE_MARKER = ".bundled"
GLUE_ARTIFACTS_DIR = BUILD / "glue-artifacts"
# The wheels `make wheelhouse` downloads for Glue's platform (:func:`wheelhouse_pins`).
GLUE_WHEELHOUSE_DIR = REPO / "build" / "glue-wheelhouse"
GLUE_SCRIPT = REPO / "glue_jobs" / "parquet_to_json.py"
VALIDATION_SCRIPT = REPO / "glue_jobs" / "validate_notebook.py"
VALIDATION_NOTEBOOK = REPO / "notebooks" / "03-validate-output.ipynb"
# Where the staged notebooks land in the artifacts bucket (the staged dir is deployed under glue/).
NOTEBOOKS_PREFIX = "glue/notebooks/"
CONSTRAINTS = REPO / "constraints.txt"
FRONTEND_DIST = REPO / "frontend" / "dist"
PLACEHOLDER_SITE = Path(__file__).resolve().parent / "placeholder_site"

# Packages copied into the Lambda asset: handlers and the library they call.
LAMBDA_PACKAGES = ("lambdas", "etl_lib")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "tests", "*.egg-info")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def stage_lambda_source(target: Path | None = None) -> Path:
    """Copy the handler and library sources into ``target`` (replacing it) and return it.

    By default a folder of this process's own: two synths at once (the test workers) must
    not delete the sources the other is still copying into its asset.
    """
    target = target or LAMBDA_SOURCE_DIR / str(os.getpid())
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for package in LAMBDA_PACKAGES:
        source = REPO / package
        if source.is_dir():
            shutil.copytree(source, target / package, ignore=_IGNORE)
        else:
            # A missing package must not break synth (the handlers are written in parallel);
            # an empty folder keeps the layout, and the deployed function fails loudly on import.
            (target / package).mkdir()
    return target


def lambda_code_dir(mode: str) -> Path:
    """The directory to package as Lambda code for the ``etl:lambdaBundle`` mode."""
    if mode == "auto" and (LAMBDA_BUNDLE_DIR / BUNDLE_MARKER).is_file():
        # The wheels stay; the sources are refreshed so a bundle made earlier is never stale.
        return finish_bundle(LAMBDA_BUNDLE_DIR)
    return stage_lambda_source()


def finish_bundle(target: Path) -> Path:
    """Add the sources to a directory of vendored wheels (`make lambda-bundle`) and mark it ready."""
    for package in LAMBDA_PACKAGES:
        if (target / package).exists():
            shutil.rmtree(target / package)
        shutil.copytree(REPO / package, target / package, ignore=_IGNORE)
    (target / BUNDLE_MARKER).write_text("made by make lambda-bundle\n", encoding="utf-8")
    return target


# Parts of the vendored wheels the handlers never load, removed so the function stays under
# Lambda's 250 MB (unzipped, layers included): pyarrow's Flight RPC, headers, Cython sources
# and test suites, and the duplicate copies of versioned .so files (wheels cannot hold symlinks;
# the loader only asks for the soname, e.g. libarrow_python.so.2600).
PRUNE_GLOBS = (
    "**/__pycache__",
    "**/tests",
    "pyarrow/include",
    "pyarrow/src",
    "pyarrow/**/*.pyx",
    "pyarrow/**/*.pxd",
    "pyarrow/**/*.pxi",
    "pyarrow/*flight*",
    "pyarrow/_pyarrow_cpp_tests*",
    "pyarrow/libarrow_python*.so",
    "pyarrow/libarrow_python*.so.*.*.*",
)
LAMBDA_UNZIPPED_LIMIT_MB = 250


def prune_bundle(target: Path) -> int:
    """Delete :data:`PRUNE_GLOBS` under ``target``; returns the bundle's size in bytes."""
    for pattern in PRUNE_GLOBS:
        for path in sorted(target.glob(pattern), reverse=True):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    return sum(f.stat().st_size for f in target.rglob("*") if f.is_file())


# The Lambda runtime (Amazon Linux 2023, python3.13, x86_64) and Glue 6.0 have glibc 2.34: a
# native extension that needs a newer GLIBC_ symbol version would not load there (and the
# converter would silently fall back to the slower reference encoder).
TARGET_GLIBC = (2, 34)
NATIVE_EXTENSION_GLOB = "etl_lib/contract/_native/encoder.cpython-313-x86_64-linux-gnu.so"
_GLIBC_VERSION = re.compile(r"\bGLIBC_(\d+(?:\.\d+)+)\b")


def glibc_versions_needed(shared_object: Path) -> set[tuple[int, ...]]:
    """The GLIBC_ symbol versions ``shared_object`` imports, from binutils' ``objdump -T``."""
    try:
        listing = subprocess.run(
            ["objdump", "-T", str(shared_object)], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ValueError(f"cannot list the dynamic symbols of {shared_object.name} with objdump: {exc}") from exc
    if "DYNAMIC SYMBOL TABLE" not in listing:
        raise ValueError(f"{shared_object.name} has no dynamic symbol table: not a shared object")
    # Undefined symbols are what the object imports; a defined one (a version it provides) is no need.
    imported = "\n".join(line for line in listing.splitlines() if "*UND*" in line)
    return {tuple(int(part) for part in v.split(".")) for v in _GLIBC_VERSION.findall(imported)}


def check_native_build(root: Path) -> Path:
    """The native encoder under ``root`` (a repository or bundle), after checking it loads on
    the target runtimes: built for CPython 3.13 on x86-64 Linux, needing no glibc newer than
    :data:`TARGET_GLIBC`. Raises ValueError with the reason otherwise."""
    found = sorted(root.glob(NATIVE_EXTENSION_GLOB))
    if not found:
        raise ValueError(f"no native encoder at {root}/{NATIVE_EXTENSION_GLOB}: run `make install` to build it")
    shared_object = found[0]
    too_new = sorted(v for v in glibc_versions_needed(shared_object) if v[:2] > TARGET_GLIBC)
    if too_new:
        names = ", ".join("GLIBC_" + ".".join(map(str, v)) for v in too_new)
        target = ".".join(map(str, TARGET_GLIBC))
        raise ValueError(f"{shared_object.name} needs {names}, newer than the runtimes' glibc {target}")
    return shared_object


def site_dir() -> Path:
    """The built React app, or a placeholder page when it has not been built (synth still works)."""
    return FRONTEND_DIST if (FRONTEND_DIST / "index.html").is_file() else PLACEHOLDER_SITE


def project_metadata() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def wheel_name() -> str:
    meta = project_metadata()
    dist = str(meta["name"]).replace("-", "_")
    return f"{dist}-{meta['version']}-py3-none-any.whl"


def build_etl_lib_wheel(target_dir: Path) -> Path:
    """Build a pure-Python wheel of ``etl_lib`` (with its runtime requirements) into ``target_dir``."""
    meta = project_metadata()
    dist = str(meta["name"]).replace("-", "_")
    version = str(meta["version"])
    dist_info = f"{dist}-{version}.dist-info"
    files: list[tuple[str, bytes]] = []
    package_root = REPO / "etl_lib"
    if any(REPO.glob(NATIVE_EXTENSION_GLOB)):
        check_native_build(REPO)  # the Glue workers load it: refuse a build they cannot
    for path in sorted(package_root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.append((path.relative_to(REPO).as_posix(), path.read_bytes()))
    requires = "".join(f"Requires-Dist: {req}\n" for req in meta.get("dependencies", []))
    files.append(
        (
            f"{dist_info}/METADATA",
            (
                f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {version}\n"
                f"Requires-Python: {meta.get('requires-python', '')}\n{requires}"
            ).encode(),
        )
    )
    files.append(
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: infra.assets\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
    )
    record_lines = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files]
    record_lines.append(f"{dist_info}/RECORD,,")
    files.append((f"{dist_info}/RECORD", ("\n".join(record_lines) + "\n").encode()))

    target_dir.mkdir(parents=True, exist_ok=True)
    wheel = target_dir / wheel_name()
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return wheel


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


MISSING_SCRIPT = '''"""Placeholder staged by infra/assets.py: glue_jobs/parquet_to_json.py was missing."""
raise SystemExit("glue_jobs/parquet_to_json.py was not in the repository when this stack was synthesized")
'''


def stage_glue_artifacts(target: Path | None = None, wheelhouse: Path | None = None) -> tuple[Path, bool]:
    """Stage the Glue scripts, the etl_lib wheel and the wheels of its runtime closure (from
    ``wheelhouse``, :data:`GLUE_WHEELHOUSE_DIR` by default); returns (dir, whether the job
    script existed). Raises :class:`WheelhouseError` (one line) when a wheel is missing.

    By default a folder of this process's own, as for the Lambda sources: two synths at once
    must not delete what the other is still staging.
    """
    target = target or GLUE_ARTIFACTS_DIR / str(os.getpid())
    # First, so a missing wheel fails synth before anything is written.
    closure = glue_wheels(wheelhouse or GLUE_WHEELHOUSE_DIR)
    if target.exists():
        shutil.rmtree(target)
    (target / "scripts").mkdir(parents=True)
    (target / "wheels").mkdir()
    script_present = GLUE_SCRIPT.is_file()
    if script_present:
        shutil.copy2(GLUE_SCRIPT, target / "scripts" / GLUE_SCRIPT.name)
    else:
        (target / "scripts" / GLUE_SCRIPT.name).write_text(MISSING_SCRIPT, encoding="utf-8")
    shutil.copy2(VALIDATION_SCRIPT, target / "scripts" / VALIDATION_SCRIPT.name)
    (target / "notebooks").mkdir()
    shutil.copy2(VALIDATION_NOTEBOOK, target / "notebooks" / VALIDATION_NOTEBOOK.name)
    build_etl_lib_wheel(target / "wheels")
    for wheel in closure.values():
        _link_or_copy(wheel, target / "wheels" / wheel.name)
    return target, script_present


def _link_or_copy(source: Path, target: Path) -> None:
    # A hard link costs no copy of the ~100 MB of wheels per synth; another file system cannot.
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _bundle_command(directory: str) -> None:
    """`python -m infra.assets bundle DIR`: the last step of `make lambda-bundle`."""
    bundle = finish_bundle(Path(directory))
    try:
        print(f"native encoder: {check_native_build(bundle).name} (glibc <= {'.'.join(map(str, TARGET_GLIBC))})")
    except ValueError as exc:
        raise SystemExit(f"refusing to bundle: {exc}") from exc
    size_mb = prune_bundle(bundle) / 1024**2
    print(f"{bundle}: {size_mb:.0f} MB unzipped")
    # The Powertools layer counts against the same limit: keep ~30 MB for it.
    if size_mb > LAMBDA_UNZIPPED_LIMIT_MB - 30:
        raise SystemExit(f"the Lambda bundle is {size_mb:.0f} MB: too close to Lambda's {LAMBDA_UNZIPPED_LIMIT_MB} MB")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(package: str) -> str:
    """The version constraints.txt pins for ``package`` (what a Glue job pip-installs)."""
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        name, _, version = line.partition("==")
        if _normalized(name.strip()) == _normalized(package) and version:
            return version.split(";")[0].strip()
    raise KeyError(f"{package} is not pinned in {CONSTRAINTS.name}")


# The environment markers of Glue 6.0's Python (CPython 3.13 on Linux x86_64), against which
# the packages' own requirements are read.
GLUE_PYTHON_MARKERS = {
    "python_version": PYTHON_VERSION,
    "python_full_version": f"{PYTHON_VERSION}.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "extra": "",
}


def runtime_closure(*roots: str) -> dict[str, str]:
    """``roots`` (requirement strings) and every package they need on Glue, transitively,
    each at the version constraints.txt pins: what a Glue job installs with ``--no-deps``,
    so no run ever resolves a range against PyPI. Read from the installed packages'
    metadata (``make install`` installs exactly the pins)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    found: dict[str, str] = {}
    todo = [Requirement(root) for root in roots]
    while todo:
        requirement = todo.pop()
        name = _normalized(requirement.name)
        if name in found:
            continue
        found[name] = pinned(name)
        for line in metadata.requires(requirement.name) or []:
            needed = Requirement(line)
            if needed.marker is None or needed.marker.evaluate(GLUE_PYTHON_MARKERS):
                todo.append(needed)
    return dict(sorted(found.items()))


def wheel_requirements() -> list[str]:
    """The library's own runtime requirements (no extras), from pyproject.toml."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return list(project["dependencies"])


# What the scheduled validation job installs besides the etl_lib wheel: papermill runs the
# notebook on ipykernel (infra/pipeline/validation.py).
NOTEBOOK_MODULES = ("papermill", "ipykernel")
# Glue 6.0 runs CPython 3.13 on x86_64 Linux with glibc 2.34 (TARGET_GLIBC): pip there takes
# manylinux wheels up to that glibc. `make wheelhouse` asks PyPI for the two tags wheels are
# published under (newer releases, pyarrow's among them, ship manylinux_2_28 only).
GLUE_WHEEL_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
# Glue passes these to pip with --additional-python-modules: every module is a wheel file in
# the artifacts bucket, so pip never consults an index (none is reachable in VPC mode) and
# installs exactly the listed files (the closure is complete, tests/infra hold it).
PYTHON_MODULES_INSTALLER_OPTION = "--no-index --no-deps"


class WheelhouseError(Exception):
    """The Glue wheelhouse lacks a wheel synth needs (one line, says what to run)."""


def wheelhouse_pins() -> dict[str, str]:
    """Every package a Glue job or session of the stack installs, at its pin: the closure of
    the library's requirements and :data:`NOTEBOOK_MODULES` (the union of what each needs)."""
    return runtime_closure(*wheel_requirements(), *NOTEBOOK_MODULES)


def wheel_identity(filename: str) -> tuple[str, str]:
    """(normalized name, version) of a wheel file name, as PEP 427 spells them."""
    from packaging.utils import parse_wheel_filename

    name, version, _build, _tags = parse_wheel_filename(filename)
    return str(name), str(version)


def _installs_on_glue(filename: str) -> bool:
    from packaging import tags
    from packaging.utils import parse_wheel_filename

    glibc_major, glibc_minor = TARGET_GLIBC
    platforms = [f"manylinux_{glibc_major}_{m}_x86_64" for m in range(glibc_minor, 16, -1)]
    platforms += ["manylinux2014_x86_64", "linux_x86_64"]
    python = tuple(int(part) for part in PYTHON_VERSION.split("."))
    supported = {*tags.cpython_tags(python, platforms=platforms), *tags.compatible_tags(python, platforms=platforms)}
    return not supported.isdisjoint(parse_wheel_filename(filename)[3])


def glue_wheels(wheelhouse: Path, pins: dict[str, str] | None = None) -> dict[str, Path]:
    """The wheel file in ``wheelhouse`` of each of ``pins`` (:func:`wheelhouse_pins` by
    default), at exactly its version and installable on Glue 6.0. Raises
    :class:`WheelhouseError` naming what is missing and the command that fetches it: synth
    never falls back to PyPI at run time."""
    from packaging.version import Version

    pins = wheelhouse_pins() if pins is None else pins
    found: dict[str, Path] = {}
    for wheel in sorted(wheelhouse.glob("*.whl")):
        name, version = wheel_identity(wheel.name)
        if name in pins and Version(version) == Version(pins[name]) and _installs_on_glue(wheel.name):
            found.setdefault(name, wheel)
    missing = [f"{name}=={version}" for name, version in pins.items() if name not in found]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise WheelhouseError(
            f"the Glue wheelhouse {wheelhouse} lacks {missing[0]}{more} for Glue's platform: "
            "run `make wheelhouse` (fetches them from PyPI once)"
        )
    return found


def download_wheelhouse(target: Path) -> dict[str, Path]:
    """Fetch the wheel of each of :func:`wheelhouse_pins` for Glue's platform into ``target``
    (emptied first, so it holds the closure and nothing else): `make wheelhouse`, at install
    time, the one moment a registry is reached."""
    pins = wheelhouse_pins()
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    requirements = target / "requirements.txt"
    requirements.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()), encoding="utf-8")
    platforms = [arg for platform in GLUE_WHEEL_PLATFORMS for arg in ("--platform", platform)]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += [*platforms, "--implementation", "cp", "--python-version", PYTHON_VERSION]
    subprocess.run([*command, "--dest", str(target), "--requirement", str(requirements)], check=True)
    return glue_wheels(target, pins)


if __name__ == "__main__":
    usage = "usage: python -m infra.assets bundle DIR | wheelhouse [DIR]"
    match sys.argv[1:]:
        case ["bundle", directory]:
            _bundle_command(directory)
        case ["wheelhouse", *where] if len(where) <= 1:
            folder = Path(where[0]) if where else GLUE_WHEELHOUSE_DIR
            try:
                wheels = download_wheelhouse(folder)
            except (WheelhouseError, subprocess.CalledProcessError) as exc:
                raise SystemExit(f"make wheelhouse: {exc}") from exc
            size_mb = sum(w.stat().st_size for w in wheels.values()) / 1024**2
            print(f"{folder}: {len(wheels)} wheels for Glue {PYTHON_VERSION} x86_64, {size_mb:.0f} MB")
        case _:
            raise SystemExit(usage)
