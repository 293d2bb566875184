#!/usr/bin/env python3
"""Decode speed of a delta (or chain) archive against the plain archive of
the same content, single thread, same run (issue 14's bar):

    python3 scripts/time_decode.py PLAIN.wz DELTA.wz [--base BASE] [--rounds N] [--threads T]

Runs `weightzip decompress -T T` (to a file in a temporary folder) and
`weightzip verify -T T` of both archives in turn, N rounds, and prints the
median time of each and the speed ratio plain/delta (the median of the
per-round ratios: steady on a shared machine). With one thread (the
default) the times are CPU times; with more (0: all cores, as the CLI's
default) wall-clock times.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
W = os.path.join(HERE, "..", "target", "release", "weightzip")


def cpu_of(args):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def wall_of(args):
    t = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("plain")
    ap.add_argument("delta")
    ap.add_argument("--base")
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    timed = cpu_of if a.threads == 1 else wall_of
    what = "CPU" if a.threads == 1 else f"wall ({a.threads or 'all'} threads)"
    t = str(a.threads)
    base = ["--base", a.base] if a.base else []
    tmp = tempfile.mkdtemp()
    try:
        out = os.path.join(tmp, "out")
        cases = {
            "decompress": (
                [W, "decompress", "-q", "-f", "-T", t, a.plain, "-o", out],
                [W, "decompress", "-q", "-f", "-T", t, a.delta, "-o", out] + base,
            ),
            "verify": (
                [W, "verify", "-q", "-T", t, a.plain],
                [W, "verify", "-q", "-T", t, a.delta] + base,
            ),
        }
        for name, (plain, delta) in cases.items():
            tp, td, ratio = [], [], []
            for _ in range(a.rounds):
                x, y = timed(plain), timed(delta)
                tp.append(x)
                td.append(y)
                ratio.append(x / y)
            print(
                f"{name}: plain {statistics.median(tp):.4f} s, delta {statistics.median(td):.4f} s {what}; "
                f"speed {statistics.median(ratio):.2f}x the plain archive's"
            )
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
