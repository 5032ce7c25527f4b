"""images_bench.py's per-image decode cost: the server's own decoder
(OpenCvDecoder::DecodeAndResize, TurboJPEG and OpenCV's imdecode) on one
thread, timed by bench/datapool_decode_bench in thread CPU time (core-ms).

The binary: env DATAPOOL_DECODE_BENCH_BIN, else bench/datapool_decode_bench
in build-bench/ or build/ (configure with -DDATAPOOL_BENCH=ON). Without it
the report falls back to OpenCV's decode timed in Python (images_peer).
"""

import json
import os
import subprocess
import tempfile

import benchlib


def find_decode_bench():
    """The decode bench's path, or None."""
    env = os.environ.get("DATAPOOL_DECODE_BENCH_BIN")
    if env:
        return env
    for b in ("build-bench", "build"):
        p = benchlib.REPO / b / "bench" / "datapool_decode_bench"
        if p.exists():
            return str(p)
    return None


def server_decode_cost(files, size, reps=3):
    """{turbojpeg_cpu_ms, opencv_cpu_ms, ..., same_pixels} per image at
    `size` px, or None without the binary."""
    binary = find_decode_bench()
    if binary is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("".join("%s\n" % f for f in files))
        listing.flush()
        proc = subprocess.run(
            [binary, listing.name, "--size=%d" % size, "--reps=%d" % reps],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit("%s failed (%d): %s" % (binary, proc.returncode,
                                                 proc.stderr[-2000:]))
    return json.loads(proc.stdout.strip().splitlines()[-1])
