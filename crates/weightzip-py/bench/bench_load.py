"""Load-time benchmark (not a test): weightzip.torch.load_file of a .wz
archive vs safetensors.torch.load_file of the original, both from the page
cache in the same process, plus the time to read the original from a disk
at 1 GB/s (computed: size / 1e9 B/s), and get_tensor of one tensor.

safetensors.torch.load_file maps the file: its tensors are views of the
page cache, faulted in on first use. So it is also timed with every page
of every tensor touched (one byte per 4 KiB page read), and with a private
copy of every tensor made (clone), which is what a loader that must
produce the bytes in process memory at least does.

With --hf FOLDER (a Hugging Face model folder with *.safetensors weights)
it also times transformers' AutoModel.from_pretrained of the folder against
the same model from its .wz copy (weightzip.hf.from_pretrained, and
transformers' own from_pretrained inside weightzip.hf.loading()).

usage: python bench/bench_load.py FILE.safetensors [--repeats N] [--json OUT] [--hf FOLDER]
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


def interleaved(cases, repeats):
    """Median wall and CPU time of each case, the cases run round-robin."""
    walls = {k: [] for k in cases}
    cpus = {k: [] for k in cases}
    for _ in range(repeats):
        for k, fn in cases.items():
            c0, t0 = cpu_seconds(), time.perf_counter()
            out = fn()
            walls[k].append(time.perf_counter() - t0)
            cpus[k].append(cpu_seconds() - c0)
            del out
    return {k: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in cases}


def touch_pages(tensors):
    """Reads one byte of every 4 KiB page of every tensor (faults a mapped
    file's pages in); returns their sum so nothing is optimised away."""
    import torch

    total = 0
    for t in tensors.values():
        if t.numel():
            total += int(t.reshape(-1).view(torch.uint8)[::4096].sum())
    return total


def bench_hf(folder, repeats):
    """transformers' load of ``folder`` vs its .wz copy, both ways."""
    import transformers

    import weightzip.hf

    auto = transformers.AutoModel
    with tempfile.TemporaryDirectory() as tmp:
        wz_dir = weightzip.hf.compress_folder(folder, os.path.join(tmp, "wz"))
        auto.from_pretrained(folder)  # warm: imports, page cache
        weightzip.hf.from_pretrained(auto, wz_dir)

        def routed():
            with weightzip.hf.loading():
                return auto.from_pretrained(wz_dir)

        ref_med, _ = median_time(lambda: auto.from_pretrained(folder), repeats)
        sd_med, _ = median_time(lambda: weightzip.hf.from_pretrained(auto, wz_dir), repeats)
        routed_med, _ = median_time(routed, repeats)
    return {
        "hf_folder": folder,
        "hf_transformers_load_uncompressed_s": ref_med,
        "hf_weightzip_from_pretrained_s": sd_med,
        "hf_transformers_load_in_weightzip_loading_s": routed_med,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json")
    ap.add_argument("--hf", help="a Hugging Face model folder to load through transformers")
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
        # safetensors' tensors are views of its file mapping, faulted in on
        # first use: "touch" reads one byte per page, "copy" clones each.
        # The cases run interleaved, so a busy machine slows all alike.
        times = interleaved(
            {
                "st": lambda: safetensors.torch.load_file(src),
                "st_copy": lambda: {k: v.clone() for k, v in safetensors.torch.load_file(src).items()},
                "st_touch": lambda: touch_pages(safetensors.torch.load_file(src)),
                "wz": lambda: weightzip.torch.load_file(wz),
                "wz_touch": lambda: touch_pages(weightzip.torch.load_file(wz)),
                "wz1": lambda: weightzip.torch.load_file(wz, threads=1),
                # The library's own decode of the whole archive (what `weightzip verify` runs).
                "verify1": lambda: weightzip.verify(wz, threads=1),
            },
            args.repeats,
        )
        st_med, st_cpu = times["st"]
        stc_med, stc_cpu = times["st_copy"]
        stt_med, stt_cpu = times["st_touch"]
        wz_med, wz_cpu = times["wz"]
        wzt_med, _ = times["wz_touch"]
        wz1_med, wz1_cpu = times["wz1"]
        ver_med, ver_cpu = times["verify1"]
        with weightzip.safe_open(wz, framework="pt") as f:
            infos = {n: f.tensor_info(n) for n in f.keys()}
            name = max(infos, key=lambda n: infos[n]["nbytes"])
            weightzip.reset_decode_stats()
            one_med, one_cpu = median_time(lambda: f.get_tensor(name), args.repeats)
            stats = weightzip.decode_stats()
            # and a tensor of median size
            by_size = sorted(infos, key=lambda n: infos[n]["nbytes"])
            mid = by_size[len(by_size) // 2]
            weightzip.reset_decode_stats()
            mid_med, _ = median_time(lambda: f.get_tensor(mid), args.repeats)
            mid_stats = weightzip.decode_stats()
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
        "safetensors_load_file_and_touch_s": stt_med,
        "safetensors_load_file_and_touch_cpu_s": stt_cpu,
        "weightzip_load_file_and_touch_s": wzt_med,
        "weightzip_over_safetensors_touched": wzt_med / stt_med,
        "weightzip_over_safetensors_copied": wz_med / stc_med,
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
        "get_tensor_chunks_of_the_tensor": infos[name]["chunks"],
        "get_tensor_stored_bytes_read_per_call": stats["stored_bytes_read"] / args.repeats,
        "get_tensor_median": mid,
        "get_tensor_median_bytes": infos[mid]["nbytes"],
        "get_tensor_median_s": mid_med,
        "get_tensor_median_chunks_decoded_per_call": mid_stats["chunks_decoded"] / args.repeats,
        "get_tensor_median_stored_bytes_read_per_call": mid_stats["stored_bytes_read"] / args.repeats,
        "archive_chunks_in_tensors": total_chunks,
    }
    if args.hf:
        result.update(bench_hf(os.path.abspath(args.hf), args.repeats))
    for k, v in result.items():
        print(f"{k:40s} {v:.4f}" if isinstance(v, float) else f"{k:40s} {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
