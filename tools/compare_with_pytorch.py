#!/usr/bin/env python3
"""Full-size check against PyTorch: ViT-B/16 at 384 pixels, random weights, `vit run` vs torch.

Developer tool (needs python3-torch and python3-torchvision, not needed by CI):
    make vit && /usr/bin/python3 tools/compare_with_pytorch.py [--batch 2] [--naming both]

1. builds torchvision's VisionTransformer with vit_base_patch16_384's shape (image 384,
   patch 16, width 768, depth 12, 12 heads, MLP 3072, 1000 classes: 86.9 M parameters) and
   gives every parameter random values (torchvision starts biases, the class token and the
   head at zero, which would hide mistakes);
2. saves it in timm naming (and/or Hugging Face naming, q/k/v split) as F32 safetensors in a
   scratch directory (default /tmp/vitlab_compare, ~350 MB per file; never in the repository);
3. saves a random input (B, 3, 384, 384), runs `build/vit run` on it and times it;
4. computes the logits with PyTorch in float32 and in float64 and prints the max |difference|
   of vitlab's logits from each (and PyTorch float32's own distance from float64, the scale
   any float32 implementation can be expected to match).
Exit status 1 if the difference from PyTorch's float32 logits exceeds --tolerance.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import time

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fixtures.checkpoint import hf_tensors  # noqa: E402
from fixtures.common import save  # noqa: E402
from fixtures.vit_small import timm_name  # noqa: E402


def load_safetensors(path):
    """Reads an F32 safetensors file (all that `vit run` writes) into {name: tensor}."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", e
        begin, end = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(
            e["shape"])
    return out


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--naming", choices=["timm", "hf", "both"], default="both")
    ap.add_argument("--dir", default="/tmp/vitlab_compare")
    ap.add_argument("--vit", default=os.path.join(HERE, "..", "build", "vit"))
    ap.add_argument("--threads", type=int, default=0, help="passed to vit run (0: its default)")
    ap.add_argument("--kernels", choices=["naive", "blocked"], default="blocked")
    ap.add_argument("--tolerance", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    torch.manual_seed(args.seed)
    model = torchvision.models.VisionTransformer(
        image_size=384, patch_size=16, num_layers=12, num_heads=12, hidden_dim=768,
        mlp_dim=3072, num_classes=1000).eval()
    for name, p in model.named_parameters():
        if name.endswith("weight") and p.dim() == 1:  # LayerNorm scale
            p.copy_(1.0 + 0.1 * torch.randn_like(p))
        elif name in ("class_token", "encoder.pos_embedding"):
            p.copy_(0.5 * torch.randn_like(p))
        elif p.dim() >= 2:  # about timm's init (std 0.02 for Linear), a bit larger
            p.copy_(0.03 * torch.randn_like(p))
        else:
            p.copy_(0.02 * torch.randn_like(p))
    print(f"model: {sum(p.numel() for p in model.parameters()):,} parameters")
    timm = {timm_name(n): p.detach() for n, p in model.named_parameters()}

    images = torch.randn(args.batch, 3, 384, 384)
    x_path = os.path.join(args.dir, "input.safetensors")
    save(x_path, {"input": images})

    t = time.time()
    expected = model(images)
    torch_seconds = time.time() - t
    reference = model.double()(images.double())  # float64: the exact answer, nearly
    model.float()
    f32_vs_f64 = (expected.double() - reference).abs().max().item()
    print(f"PyTorch float32: {torch_seconds:.2f} s, logits in "
          f"[{expected.min().item():.3f}, {expected.max().item():.3f}]; "
          f"max |float32 - float64| = {f32_vs_f64:.3g}")

    worst = 0.0
    for naming in (["timm", "hf"] if args.naming == "both" else [args.naming]):
        # The file name carries the model's name, as a downloaded checkpoint's path does; --model
        # makes the architecture explicit anyway.
        w_path = os.path.join(args.dir, f"vit_base_patch16_384_{naming}.safetensors")
        save(w_path, timm if naming == "timm" else hf_tensors(timm, depth=12))
        y_path = os.path.join(args.dir, f"logits_{naming}.safetensors")
        cmd = [args.vit, "run", "--weights", w_path, "--model", "vit_base_patch16_384",
               "--input", x_path, "--output", y_path, "--kernels", args.kernels]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        print("$", " ".join(cmd))
        t = time.time()
        subprocess.run(cmd, check=True)
        seconds = time.time() - t
        got = load_safetensors(y_path)["logits"]
        if naming == "hf":  # transformers' LayerNorm eps is 1e-12: compare with that model
            for m in model.modules():
                if isinstance(m, torch.nn.LayerNorm):
                    m.eps = 1e-12
            want = model(images)
            want64 = model.double()(images.double())
            model.float()
        else:
            want, want64 = expected, reference
        diff = (got - want).abs().max().item()
        diff64 = (got.double() - want64).abs().max().item()
        same_top1 = bool((got.argmax(1) == want.argmax(1)).all())
        print(f"{naming:4s}: vit run {seconds:.2f} s; max |vitlab - PyTorch float32| = {diff:.3g}, "
              f"max |vitlab - float64| = {diff64:.3g}, same top-1: {same_top1}")
        worst = max(worst, diff)
    print(f"max logit difference vs PyTorch (float32): {worst:.3g}")
    sys.exit(0 if worst <= args.tolerance else 1)


if __name__ == "__main__":
    main()
