"""Where the local engine's CPU goes on one file: read (Parquet decode), encode (JSON), write.

One thread runs the local engine's steps in turn - ``read_slice`` for each slice, the contract's
``encode_lines`` for each batch, one write of the batch's bytes to the engine's own output file
(:class:`etl_lib.output.direct_file.DirectFile`, its final sync included) - and charges each step its
thread CPU time. Prints one JSON object. The encoder is the process's (ETL_ENCODER).

    python bench/cpu_profile.py SRC DEST
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def profile(src: str, dest: str) -> dict[str, object]:
    from etl_lib.contract import native
    from etl_lib.contract.reference import encode_lines
    from etl_lib.input.planning import open_input, read_slice
    from etl_lib.options import ConvertOptions
    from etl_lib.output.direct_file import DirectFile
    from etl_lib.output.writer import _line_bytes

    opts = ConvertOptions()
    cpu = {"read": 0.0, "encode": 0.0, "write": 0.0}
    rows = json_bytes = 0
    wall = time.perf_counter()
    Path(dest).unlink(missing_ok=True)
    out = DirectFile(dest)
    try:
        for piece in open_input(src).plan():
            batches = read_slice(piece)
            while True:
                t0 = time.thread_time()
                batch = next(batches, None)
                t1 = time.thread_time()
                cpu["read"] += t1 - t0
                if batch is None:
                    break
                data = _line_bytes(encode_lines(batch, opts, terminator="\n"))
                t2 = time.thread_time()
                out.write(data)
                t3 = time.thread_time()
                cpu["encode"] += t2 - t1
                cpu["write"] += t3 - t2
                rows += batch.num_rows
                json_bytes += data.size
        t0 = time.thread_time()
        out.close()
        cpu["write"] += time.thread_time() - t0
    finally:
        out.abandon()
    return {
        "encoder": native.selected(),
        "rows": rows,
        "json_bytes": json_bytes,
        "wall_s": time.perf_counter() - wall,
        **{f"{step}_cpu_s": seconds for step, seconds in cpu.items()},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(profile(argv[0], argv[1])))
    Path(argv[1]).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
