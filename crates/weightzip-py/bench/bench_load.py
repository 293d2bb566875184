"""Load-time benchmark (not a test): weightzip.torch.load_file of a .wz
archive vs safetensors.torch.load_file of the original, both from the page
cache in the same process, plus the time to read the original from a disk
at 1 GB/s (computed: size / 1e9 B/s), and get_tensor of one tensor.

usage: python bench/bench_load.py FILE.safetensors [--repeats N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time


def cpu_seconds():
    """CPU time of this process, all threads (steadier than wall time on a busy machine)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def median_time(fn, repeats):
    """Median wall time and median CPU time of ``fn()``."""
    times, cpus = [], []
    for _ in range(repeats):
        c0, t0 = cpu_seconds(), time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds() - c0)
        del out
    return statistics.median(times), statistics.median(cpus)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json")
    args = ap.parse_args()

    import safetensors.torch
    import torch

    import weightzip
    import weightzip.torch

    src = os.path.abspath(args.file)
    size = os.path.getsize(src)
    with tempfile.TemporaryDirectory() as tmp:
        wz = os.path.join(tmp, os.path.basename(src) + ".wz")
        t0 = time.perf_counter()
        weightzip.compress(src, wz)
        t_compress = time.perf_counter() - t0
        wz_size = os.path.getsize(wz)
        # Warm the page cache for both files.
        for p in (src, wz):
            with open(p, "rb") as f:
                while f.read(1 << 24):
                    pass
        a = safetensors.torch.load_file(src)
        b = weightzip.torch.load_file(wz)
        assert a.keys() == b.keys() and all(torch.equal(a[k].view(-1).view(torch.uint8), b[k].view(-1).view(torch.uint8)) for k in a)
        del a, b
        st_med, st_cpu = median_time(lambda: safetensors.torch.load_file(src), args.repeats)
        # safetensors' tensors are views of its file mapping, faulted in on
        # first use; a copy of each is the least a loader that must produce
        # the bytes does.
        stc_med, stc_cpu = median_time(
            lambda: {k: v.clone() for k, v in safetensors.torch.load_file(src).items()}, args.repeats
        )
        wz_med, wz_cpu = median_time(lambda: weightzip.torch.load_file(wz), args.repeats)
        wz1_med, wz1_cpu = median_time(lambda: weightzip.torch.load_file(wz, threads=1), args.repeats)
        # The library's own decode of the whole archive (what `weightzip verify` runs).
        ver_med, ver_cpu = median_time(lambda: weightzip.verify(wz, threads=1), args.repeats)
        with weightzip.safe_open(wz, framework="pt") as f:
            infos = {n: f.tensor_info(n) for n in f.keys()}
            name = max(infos, key=lambda n: infos[n]["nbytes"])
            weightzip.reset_decode_stats()
            one_med, one_cpu = median_time(lambda: f.get_tensor(name), args.repeats)
            stats = weightzip.decode_stats()
        total_chunks = sum(i["chunks"] for i in infos.values())
    disk = size / 1e9
    result = {
        "file": src,
        "bytes": size,
        "archive_bytes": wz_size,
        "ratio": size / wz_size,
        "torch": torch.__version__,
        "compress_s": t_compress,
        "safetensors_load_file_s": st_med,
        "weightzip_load_file_s": wz_med,
        "weightzip_load_file_1thread_s": wz1_med,
        "weightzip_over_safetensors": wz_med / st_med,
        "safetensors_load_file_cpu_s": st_cpu,
        "safetensors_load_file_and_copy_s": stc_med,
        "safetensors_load_file_and_copy_cpu_s": stc_cpu,
        "weightzip_load_file_cpu_s": wz_cpu,
        "weightzip_load_file_1thread_cpu_s": wz1_cpu,
        "weightzip_over_safetensors_cpu": wz_cpu / st_cpu,
        "library_verify_1thread_s": ver_med,
        "library_verify_1thread_cpu_s": ver_cpu,
        "original_plus_read_at_1GBps_s": st_med + size / 1e9,
        "weightzip_plus_archive_read_at_1GBps_s": wz_med + wz_size / 1e9,
        "original_from_1GBps_disk_s": disk,
        "weightzip_decode_GBps": size / wz_med / 1e9,
        "get_tensor": name,
        "get_tensor_bytes": infos[name]["nbytes"],
        "get_tensor_s": one_med,
        "get_tensor_chunks_decoded_per_call": stats["chunks_decoded"] / args.repeats,
        "archive_chunks_in_tensors": total_chunks,
    }
    for k, v in result.items():
        print(f"{k:40s} {v:.4f}" if isinstance(v, float) else f"{k:40s} {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
