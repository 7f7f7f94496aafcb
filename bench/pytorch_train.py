#!/usr/bin/env python3
"""pytorch_train.py: PyTorch trains the vit_fmnist model, timed and scored the way vitlab does,
so that both can be compared in one sitting.

    python3 bench/pytorch_train.py                  # images/s of a training step, 1 and 2 threads
    python3 bench/pytorch_train.py --steps 50       # more timed steps
    python3 bench/pytorch_train.py --epochs 10 --threads 2 --csv runs/torch/metrics.csv
                                                    # the whole recipe on Fashion-MNIST

The model is torchvision's VisionTransformer(image_size=28, patch_size=4, num_layers=6,
num_heads=4, hidden_dim=64, mlp_dim=128, num_classes=10) with a 1-channel conv_proj: vitlab's
vit_fmnist preset (205,962 parameters), batch 128.

The recipe is vitlab's `vit train` defaults: AdamW (lr 3e-3, betas 0.9/0.999, eps 1e-8, weight
decay 0.05 on the matrices only, none on biases, norms, position embedding and class token, as
timm does), a linear warm-up over the first 10% of the steps (from lr * 1e-3) then a cosine to 0,
stepped after every batch; cross-entropy; no augmentation; pixels / 255 normalised with mean
0.2860 and std 0.3530.

Timing (the default): one training step = forward, cross-entropy, zero_grad, backward, AdamW
step, schedule step, on random images (the time does not depend on the values; data loading is
not timed, as in bench/bench_train.cpp). --warmup steps untimed, then the median of --steps
steps. Each thread count runs in a fresh process (OpenBLAS reads OPENBLAS_NUM_THREADS once);
for t threads both torch.set_num_threads(t) and OPENBLAS_NUM_THREADS=1 or t are tried and the
faster is kept. The OpenBLAS core is checked as bench/pytorch_vit.py does: a core without the
CPU's widest SIMD (AVX2 / AVX-512) runs with OPENBLAS_CORETYPE=Haswell / SkylakeX, and it says
so.
"""
import argparse
import csv
import gzip
import math
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_vit import fair_coretype, openblas_core, simd_of  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530


def make_model(init="torchvision"):
    import torch
    from torchvision.models.vision_transformer import VisionTransformer

    model = VisionTransformer(image_size=28, patch_size=4, num_layers=6, num_heads=4,
                              hidden_dim=64, mlp_dim=128, num_classes=10)
    model.conv_proj = torch.nn.Conv2d(1, 64, kernel_size=4, stride=4)
    # torchvision's own initialisation of conv_proj, for the new 1-channel one.
    fan_in = 1 * 4 * 4
    torch.nn.init.trunc_normal_(model.conv_proj.weight, std=math.sqrt(1 / fan_in))
    torch.nn.init.zeros_(model.conv_proj.bias)
    if init == "timm":
        timm_init_(model)
    return model


def timm_init_(model):
    """vitlab's initialisation (nn/init.h, timm's): every Linear (the attention's in_proj too)
    trunc_normal(std 0.02, [-2, 2]) with zero bias, the position embedding trunc_normal(0.02),
    the class token normal(1e-6), the patch conv PyTorch's default (uniform +-1/sqrt(fan_in)),
    LayerNorm ones and zeros. torchvision's own differs (xavier_uniform MLP and attention
    weights, a zero head, a zero class token), which changes how a model this small trains."""
    import torch

    tn = torch.nn.init.trunc_normal_
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                tn(m.weight, std=0.02, a=-2.0, b=2.0)
                if m.bias is not None:
                    torch.nn.init.zeros_(m.bias)
            elif isinstance(m, torch.nn.MultiheadAttention):
                tn(m.in_proj_weight, std=0.02, a=-2.0, b=2.0)
                torch.nn.init.zeros_(m.in_proj_bias)
        model.conv_proj.reset_parameters()
        tn(model.encoder.pos_embedding, std=0.02, a=-2.0, b=2.0)
        torch.nn.init.normal_(model.class_token, std=1e-6)


def make_optimizer(model, lr, weight_decay, total_steps, warmup):
    import torch

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        skip = p.ndim <= 1 or name in ("class_token", "encoder.pos_embedding")
        (no_decay if skip else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.999), eps=1e-8)
    warmup_steps = int(round(warmup * total_steps))
    scheds, milestones = [], []
    if warmup_steps > 0:
        scheds.append(torch.optim.lr_scheduler.LinearLR(opt, 1e-3, 1.0, total_iters=warmup_steps))
        milestones.append(warmup_steps)
    scheds.append(torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=max(1, total_steps - warmup_steps), eta_min=0.0))
    sched = (scheds[0] if len(scheds) == 1 else
             torch.optim.lr_scheduler.SequentialLR(opt, scheds, milestones=milestones))
    return opt, sched


def read_idx(path):
    import numpy as np

    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        sys.exit(f"pytorch_train.py: cannot read {path} ({e}); "
                 f"apt-get install dataset-fashion-mnist")
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_split(data_dir, prefix):
    import torch

    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    x = (torch.from_numpy(images.copy()).float() / 255 - MEAN) / STD
    return x.unsqueeze(1), torch.from_numpy(labels.astype("int64"))


def step(model, opt, sched, x, y):
    import torch.nn.functional as F

    logits = model(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return loss, logits


def time_child(args):
    """One thread setting: print '#rate images/s cpu/wall' for the median step."""
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.child_threads)
    model = make_model().train()
    total = args.warmup + args.steps
    opt, sched = make_optimizer(model, args.lr, args.weight_decay, total, 0.1)
    x = torch.randn(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))
    times, cpu = [], []
    for i in range(total):
        t0, c0 = time.perf_counter(), time.process_time()
        step(model, opt, sched, x, y)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    median = statistics.median(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"#rate {args.batch / median:.1f} {sum(cpu) / sum(times):.2f} {median * 1e3:.2f} {peak}")
    print(f"#core {openblas_core()}")


def fair_env():
    core = openblas_core()
    coretype = fair_coretype(core)
    if coretype:
        print(f"OpenBLAS chose core {core}, without this CPU's {simd_of(coretype)}: "
              f"every setting runs with OPENBLAS_CORETYPE={coretype}")
        return {"OPENBLAS_CORETYPE": coretype}
    print(f"OpenBLAS core: {core}" if core else "torch does not use OpenBLAS here")
    return {}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def bench(args):
    import torch

    print(f"PyTorch {torch.__version__} trains vit_fmnist (batch {args.batch}): median of "
          f"{args.steps} steps after {args.warmup} warm-up steps, on {cpu_name()}")
    extra = fair_env()
    print(f"\n{'threads':>7}  {'OPENBLAS_NUM_THREADS':>20}  {'step ms':>8}  {'images/s':>9}  "
          f"{'cpu/wall':>8}  {'peak MiB':>8}")
    best = {}
    for threads in args.threads_list:
        for blas in sorted({1, threads}):
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(blas), **extra)
            cmd = [sys.executable, os.path.abspath(__file__), "--child-threads", str(threads),
                   "--steps", str(args.steps), "--warmup", str(args.warmup),
                   "--batch", str(args.batch), "--seed", str(args.seed)]
            out = subprocess.run(cmd, env=env, check=True, capture_output=True,
                                 text=True).stdout
            rate, ratio, ms, peak = next(l for l in out.splitlines()
                                         if l.startswith("#rate")).split()[1:]
            print(f"{threads:>7}  {blas:>20}  {float(ms):>8.2f}  {float(rate):>9.1f}  "
                  f"{ratio:>8}  {int(peak) / 2**20:>8.0f}")
            sys.stdout.flush()
            if float(rate) > best.get(threads, 0.0):
                best[threads] = float(rate)
    print("\nbest images/s: " + ", ".join(f"{t} thread{'s' if t > 1 else ''} {r:.1f}"
                                          for t, r in sorted(best.items())))


def evaluate(model, x, y, batch):
    import torch
    import torch.nn.functional as F

    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(x[i:i + batch])
            loss += F.cross_entropy(logits, y[i:i + batch], reduction="sum").item()
            correct += (logits.argmax(1) == y[i:i + batch]).sum().item()
    model.train()
    return loss / len(x), correct / len(x)


def train(args):
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    xtr, ytr = load_split(args.data_dir, "train")
    xte, yte = load_split(args.data_dir, "t10k")
    model = make_model(args.init).train()
    steps_per_epoch = math.ceil(len(xtr) / args.batch)
    opt, sched = make_optimizer(model, args.lr, args.weight_decay,
                                args.epochs * steps_per_epoch, args.warmup_fraction)
    print(f"PyTorch {torch.__version__}, {args.threads} thread(s), {cpu_name()}: vit_fmnist "
          f"({args.init} init), {args.epochs} epochs of {steps_per_epoch} steps, batch {args.batch}, lr {args.lr}",
          flush=True)
    rows = []
    gen = torch.Generator().manual_seed(args.seed)
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(xtr), generator=gen)
        t0 = time.perf_counter()
        total_loss, correct = 0.0, 0
        for i in range(0, len(xtr), args.batch):
            idx = order[i:i + args.batch]
            loss, logits = step(model, opt, sched, xtr[idx], ytr[idx])
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == ytr[idx]).sum().item()
        seconds = time.perf_counter() - t0
        test_loss, test_acc = evaluate(model, xte, yte, 1000)
        row = {"epoch": epoch, "train_loss": total_loss / len(xtr),
               "train_acc": correct / len(xtr), "test_loss": test_loss, "test_acc": test_acc,
               "images_per_s": len(xtr) / seconds, "seconds": seconds}
        rows.append(row)
        print(f"epoch {epoch}: train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f}  "
              f"test loss {test_loss:.4f} acc {test_acc:.4f}  {row['images_per_s']:.0f} "
              f"images/s  {seconds:.0f} s", flush=True)
    if args.csv:
        os.makedirs(os.path.dirname(os.path.abspath(args.csv)), exist_ok=True)
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"final test accuracy {rows[-1]['test_acc']:.4f}; peak resident memory {peak:.0f} MiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps (timing mode)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps (timing mode)")
    parser.add_argument("--threads-list", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=0, help="train for real (0: timing mode)")
    parser.add_argument("--threads", type=int, default=2, help="threads when training")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--warmup-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=DATA_DIR)
    parser.add_argument("--csv", help="write one row per epoch here (training mode)")
    parser.add_argument("--init", choices=["torchvision", "timm"], default="torchvision",
                        help="torchvision's initialisation, or vitlab's (timm's)")
    parser.add_argument("--child-threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_threads is not None:
        return time_child(args)
    if args.epochs > 0:
        extra = fair_env()
        if extra and "OPENBLAS_CORETYPE" not in os.environ:
            os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, **extra))
        return train(args)
    return bench(args)


if __name__ == "__main__":
    main()
