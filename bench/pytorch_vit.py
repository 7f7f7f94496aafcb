#!/usr/bin/env python3
"""pytorch_vit.py: torchvision's vit_b_16 at 384 px, timed the way bench/bench_vit.cpp times
vitlab, so that both can be compared in one session.

    python3 bench/pytorch_vit.py                 # batch 1, every thread setting below
    python3 bench/pytorch_vit.py --reps 9 --image-size 224 --batch 8

vit_b_16(image_size=384) is vit_base_patch16_384's architecture (577 tokens, 12 blocks of
width 768), with random weights: the time does not depend on the values. Each setting runs in
a fresh process, because OpenBLAS reads OPENBLAS_NUM_THREADS once, when the library loads:
    torch threads (torch.set_num_threads) 1 or 2  x  OPENBLAS_NUM_THREADS 1 or 2
Within a process: build the model (not timed), one warm-up forward, then the median of --reps
forwards under torch.inference_mode(). The rows have bench_vit's columns (cpu/wall: the CPU
time of all threads over the wall time, below the thread count when other processes compete;
cpu ms: the median CPU time of one forward, all threads together).
The best (lowest median) setting is printed last, with the peak resident memory of its process.

A fair baseline: OpenBLAS picks its kernels from the CPU when it loads, and 0.3.21 takes CPUs
it does not know for old ones (a Sapphire Rapids became "Prescott", no AVX: 4.2 s a forward).
The script prints the core OpenBLAS uses; when that core lacks the CPU's widest SIMD (AVX2, or
AVX-512: an AMD Zen 5 becomes "Haswell"), every setting runs with OPENBLAS_CORETYPE=Haswell or
SkylakeX, and it says so.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

SETTINGS = [(1, 1), (1, 2), (2, 1), (2, 2)]  # (torch threads, OPENBLAS_NUM_THREADS)
COLUMNS = [("model", 34, "<"), ("batch", 5, ">"), ("threads", 7, ">"), ("median ms", 10, ">"),
           ("min ms", 9, ">"), ("images/s", 8, ">"), ("cpu/wall", 8, ">"),
           ("cpu ms", 9, ">")]


# OpenBLAS cores (0.3.21) with AVX2 + FMA kernels, and those of them with AVX-512 kernels; any
# other is generic or older.
AVX2_CORES = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", "excavator"}
AVX512_CORES = {"skylakex", "cooperlake", "sapphirerapids"}


def openblas_core():
    """The core OpenBLAS chose in this process, or None if torch does not use OpenBLAS."""
    import ctypes
    import torch  # noqa: F401  (loads the BLAS library)
    with open("/proc/self/maps") as maps:
        paths = sorted({l.split()[-1] for l in maps if "blas" in l and ".so" in l})
    for path in paths:
        try:
            corename = ctypes.CDLL(path).openblas_get_corename
        except (OSError, AttributeError):
            continue
        corename.restype = ctypes.c_char_p
        return corename().decode()
    return None


def fair_coretype(core):
    """OPENBLAS_CORETYPE to set when `core` lacks the widest SIMD this CPU has, else None.

    0.3.21 takes CPUs it does not know for old ones: a Sapphire Rapids became "Prescott" (no
    AVX), and an AMD Zen 5 with AVX-512 becomes "Haswell" (AVX2 only; PyTorch trains vit_fmnist
    18% faster there with SkylakeX's kernels). The baseline gets the CPU's widest kernels."""
    flags = set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = set(next(l for l in cpuinfo if l.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        pass
    if core is None or not {"avx2", "fma"} <= flags:
        return None
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return None if core.lower() in AVX512_CORES else "SkylakeX"
    return None if core.lower() in AVX2_CORES else "Haswell"


def simd_of(coretype):
    """The SIMD that the core fair_coretype() sets has and OpenBLAS's own choice lacked."""
    return "AVX-512" if coretype == "SkylakeX" else "AVX2"


def row(cells):
    return "  ".join(f"{c:{a}{w}}" for c, (_, w, a) in zip(cells, COLUMNS)).rstrip()


def child(args):
    """One setting: time the forward, print one table row and a memory line."""
    import torch
    import torchvision

    torch.set_num_threads(args.torch_threads)
    model = torchvision.models.vit_b_16(weights=None, image_size=args.image_size).eval()
    images = torch.randn(args.batch, 3, args.image_size, args.image_size)
    times, cpu = [], []
    with torch.inference_mode():
        model(images)  # warm-up
        for _ in range(args.reps):
            t0, c0 = time.perf_counter(), time.process_time()
            model(images)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    median = statistics.median(times)
    name = f"torch vit_b_16@{args.image_size} blas={os.environ.get('OPENBLAS_NUM_THREADS', '?')}"
    print(row([name, args.batch, args.torch_threads, f"{median * 1e3:.1f}",
               f"{min(times) * 1e3:.1f}", f"{args.batch / median:.2f}",
               f"{sum(cpu) / sum(times):.2f}", f"{statistics.median(cpu) * 1e3:.1f}"]))
    weights = 4 * sum(p.numel() for p in model.parameters())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    print(f"#mem {peak} {weights} {median}")
    print(f"#core {openblas_core()}")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=384)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--torch-threads", type=int, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.torch_threads is not None:
        return child(args)

    print(f"PyTorch ViT forward: median of {args.reps} runs after 1 warm-up "
          f"(model building not timed); each setting in its own process")
    core = openblas_core()
    coretype = fair_coretype(core)
    extra_env = {}
    if coretype:
        extra_env["OPENBLAS_CORETYPE"] = coretype
        print(f"OpenBLAS chose core {core}, without this CPU's {simd_of(coretype)}: "
              f"every setting runs with OPENBLAS_CORETYPE={coretype}")
    elif core is None:
        print("torch does not use OpenBLAS here: its own BLAS runs")
    cores_used = set()
    print()
    print(row([c for c, _, _ in COLUMNS]))
    print("  ".join("-" * w for _, w, _ in COLUMNS))
    best = None
    for torch_threads, blas_threads in SETTINGS:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(blas_threads), **extra_env)
        cmd = [sys.executable, os.path.abspath(__file__), "--torch-threads", str(torch_threads),
               "--reps", str(args.reps), "--image-size", str(args.image_size),
               "--batch", str(args.batch)]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        lines = out.strip().splitlines()
        table_line = next(l for l in lines if not l.startswith("#"))
        cores_used.add(next(l for l in lines if l.startswith("#core")).split()[1])
        peak, weights, median = next(l for l in lines if l.startswith("#mem")).split()[1:]
        print(table_line)
        sys.stdout.flush()
        if best is None or float(median) < best[0]:
            best = (float(median), table_line, int(peak), int(weights))
    if core is not None:
        print(f"OpenBLAS core in every setting: {', '.join(sorted(cores_used))}")
    print("\nbest setting:\n" + best[1])
    print(f"peak resident memory of that process: {best[2] / 2**20:.0f} MiB, "
          f"weights {best[3] / 2**20:.0f} MiB: peak / weights = {best[2] / best[3]:.3f}")


if __name__ == "__main__":
    main()
