"""Build configuration of the native record encoder (everything else is in pyproject.toml).

``pip install -e .`` (``make install``) compiles etl_lib/contract/_native/encoder.c with the machine's
C compiler. The extension is optional at build time: where it cannot be compiled, the
package still installs and etl_lib.contract.reference uses its Arrow-kernel reference path (and logs
which encoder runs).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "etl_lib.contract._native.encoder",
            sources=["etl_lib/contract/_native/encoder.c"],
            depends=["etl_lib/contract/_native/shortest.h", "etl_lib/contract/_native/shortest_tables.h"],
            # No -march=native: the same build ships to Lambda and Glue (x86-64 baseline).
            extra_compile_args=[
                "-O3",
                "-std=gnu11",
                "-fvisibility=hidden",
                "-Wall",
                "-Wextra",
                "-Wno-unused-parameter",
            ],
            optional=True,
        )
    ],
)
