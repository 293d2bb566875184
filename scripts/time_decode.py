#!/usr/bin/env python3
"""Decode speed of a delta (or chain) archive against the plain archive of
the same content, single thread, same run (issue 14's bar):

    python3 scripts/time_decode.py PLAIN.wz DELTA.wz [--base BASE] [--rounds N]

Runs `weightzip decompress -T 1` (to a file in a temporary folder) and
`weightzip verify -T 1` of both archives in turn, N rounds, and prints
the median CPU time of each and the speed ratio plain/delta (the median of
the per-round ratios: steady on a shared machine).
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
W = os.path.join(HERE, "..", "target", "release", "weightzip")


def cpu_of(args):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("plain")
    ap.add_argument("delta")
    ap.add_argument("--base")
    ap.add_argument("--rounds", type=int, default=21)
    a = ap.parse_args()
    base = ["--base", a.base] if a.base else []
    tmp = tempfile.mkdtemp()
    try:
        out = os.path.join(tmp, "out")
        cases = {
            "decompress": (
                [W, "decompress", "-q", "-f", "-T", "1", a.plain, "-o", out],
                [W, "decompress", "-q", "-f", "-T", "1", a.delta, "-o", out] + base,
            ),
            "verify": (
                [W, "verify", "-q", "-T", "1", a.plain],
                [W, "verify", "-q", "-T", "1", a.delta] + base,
            ),
        }
        for name, (plain, delta) in cases.items():
            tp, td, ratio = [], [], []
            for _ in range(a.rounds):
                x, y = cpu_of(plain), cpu_of(delta)
                tp.append(x)
                td.append(y)
                ratio.append(x / y)
            print(
                f"{name}: plain {statistics.median(tp):.4f} s, delta {statistics.median(td):.4f} s CPU; "
                f"speed {statistics.median(ratio):.2f}x the plain archive's"
            )
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
