"""The native encoder as it ships: built, loadable, and linkable on the runtimes' glibc."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_lib.contract import native
from infra import assets


def test_the_native_encoder_is_built_by_the_install_and_loads() -> None:
    assert native.load_error() is None, f"the native encoder does not load: {native.load_error()}"


def test_the_built_encoder_needs_no_glibc_newer_than_the_lambda_and_glue_runtimes() -> None:
    shared_object = assets.check_native_build(assets.REPO)
    needed = assets.glibc_versions_needed(shared_object)
    assert needed, "objdump listed no GLIBC_ versions: the check would prove nothing"
    assert max(v[:2] for v in needed) <= assets.TARGET_GLIBC == (2, 34)


def test_the_check_refuses_a_shared_object_that_needs_a_newer_glibc(tmp_path: Path) -> None:
    # A real shared object of this machine built against its newer glibc (Debian 12: 2.36).
    candidates = [
        p
        for p in map(Path, ["/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6"])
        if p.is_file() and max(assets.glibc_versions_needed(p), default=(0,))[:2] > assets.TARGET_GLIBC
    ]
    if not candidates:
        pytest.skip("no library of this machine needs a glibc newer than 2.34")
    fake = tmp_path / assets.NATIVE_EXTENSION_GLOB
    fake.parent.mkdir(parents=True)
    fake.write_bytes(candidates[0].read_bytes())
    with pytest.raises(ValueError, match=r"needs GLIBC_2\.\d+.*newer than the runtimes' glibc 2\.34"):
        assets.check_native_build(tmp_path)


def test_the_check_refuses_a_bundle_without_the_encoder_or_with_a_broken_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no native encoder"):
        assets.check_native_build(tmp_path)
    fake = tmp_path / assets.NATIVE_EXTENSION_GLOB
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"not an ELF file")
    with pytest.raises(ValueError, match="objdump"):
        assets.check_native_build(tmp_path)


def test_the_built_encoder_links_to_the_c_library_only() -> None:
    # It reads Arrow memory through the C data interface, so it loads beside any pyarrow
    # build (the Lambda bundle's manylinux wheel, Glue's own) without linking to libarrow.
    import subprocess

    shared_object = assets.check_native_build(assets.REPO)
    dynamic = subprocess.run(["readelf", "-d", str(shared_object)], capture_output=True, text=True, check=True).stdout
    needed = [line.split("[", 1)[1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line]
    assert needed == ["libc.so.6"]
