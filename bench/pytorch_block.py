#!/usr/bin/env python3
"""pytorch_block.py: one ViT-B/16-224 encoder block, forward + backward, timed the way
bench/bench_block.cpp times vitlab's, so that both can be compared in one sitting.

    python3 bench/pytorch_block.py               # batch 1, 1 and 2 threads
    python3 bench/pytorch_block.py --reps 20 --batch 8

The block is torchvision's EncoderBlock(num_heads=12, hidden_dim=768, mlp_dim=3072), the block
of vit_b_16 (pre-norm, nn.MultiheadAttention, GELU MLP, no dropout), on (batch, 197, 768).
One step: zero_grad, y = block(x), y.backward(dy), every parameter's grad and x's grad. The
forward alone runs under torch.no_grad(). Each thread count runs in a fresh process with
OPENBLAS_NUM_THREADS 1 and t; the faster is kept. A pre-AVX2 OpenBLAS core on a CPU with
AVX2 / AVX-512 runs with OPENBLAS_CORETYPE=Haswell / SkylakeX, as bench/pytorch_vit.py does.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_vit import fair_coretype, openblas_core  # noqa: E402


def child(args):
    import torch
    from torchvision.models.vision_transformer import EncoderBlock

    torch.manual_seed(0)
    torch.set_num_threads(args.child_threads)
    block = EncoderBlock(num_heads=12, hidden_dim=768, mlp_dim=3072, dropout=0.0,
                         attention_dropout=0.0).train()
    x = torch.randn(args.batch, 197, 768, requires_grad=True)
    dy = torch.randn(args.batch, 197, 768)

    def forward():
        with torch.no_grad():
            block(x)

    def step():
        block.zero_grad(set_to_none=True)
        x.grad = None
        block(x).backward(dy)

    def median_ms(fn):
        for _ in range(2):
            fn()
        times, cpu = [], []
        for _ in range(args.reps):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        return statistics.median(times) * 1e3, sum(cpu) / sum(times)

    fwd, _ = median_ms(forward)
    both, ratio = median_ms(step)
    print(f"#row {fwd:.2f} {both:.2f} {ratio:.2f}")
    print(f"#core {openblas_core()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--child-threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_threads is not None:
        return child(args)

    import torch

    T, C, M, H = 197, 768, 3072, 12
    fwd_flops = 2.0 * args.batch * T * C * (3 * C + C + M + M) + 4.0 * args.batch * H * T * T * 64
    print(f"PyTorch {torch.__version__}: ViT-B/16-224 block (batch {args.batch}, 197 tokens), "
          f"forward + backward, median of {args.reps} after 2 warm-up")
    core = openblas_core()
    coretype = fair_coretype(core)
    extra = {"OPENBLAS_CORETYPE": coretype} if coretype else {}
    print(f"OpenBLAS core {core}" + (f", run with OPENBLAS_CORETYPE={coretype}" if coretype
                                     else ""))
    print(f"\n{'threads':>7}  {'blas':>4}  {'fwd ms':>8}  {'fwd+bwd ms':>10}  {'GFLOP/s':>8}  "
          f"{'cpu/wall':>8}")
    best = {}
    for threads in (1, 2):
        for blas in sorted({1, threads}):
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(blas), **extra)
            cmd = [sys.executable, os.path.abspath(__file__), "--child-threads", str(threads),
                   "--reps", str(args.reps), "--batch", str(args.batch)]
            out = subprocess.run(cmd, env=env, check=True, capture_output=True,
                                 text=True).stdout
            fwd, both, ratio = next(l for l in out.splitlines()
                                    if l.startswith("#row")).split()[1:]
            gflops = 3 * fwd_flops / (float(both) * 1e-3) * 1e-9
            print(f"{threads:>7}  {blas:>4}  {float(fwd):>8.2f}  {float(both):>10.2f}  "
                  f"{gflops:>8.1f}  {ratio:>8}")
            sys.stdout.flush()
            if threads not in best or float(both) < best[threads]:
                best[threads] = float(both)
    print("\nbest fwd+bwd ms: " + ", ".join(f"{t} thread{'s' if t > 1 else ''} {ms:.2f}"
                                           for t, ms in sorted(best.items())))


if __name__ == "__main__":
    main()
