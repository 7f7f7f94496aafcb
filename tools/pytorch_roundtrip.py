#!/usr/bin/env python3
"""To PyTorch and back: a vitlab-trained ViT in torchvision, checked to give the same logits.

A model trained by vitlab (tutorials/11_training.cpp, or `vit train --out DIR`) is saved as
model.safetensors with timm's parameter names. This script puts those numbers into PyTorch's
own ViT, torchvision.models.VisionTransformer, so a user who outgrows vitlab takes the model
with them, and proves the two frameworks compute the same function:

    /usr/bin/python3 tools/pytorch_roundtrip.py build/tutorial_11
    /usr/bin/python3 tools/pytorch_roundtrip.py runs/fmnist --images 8 [--vit build/vit]

Developer tool: needs python3-torch and python3-torchvision (apt-get install python3-torch
python3-torchvision), not timm and not the safetensors package (the format is read here: an
8-byte little-endian header length, a JSON header, then the raw little-endian numbers).

The argument is a directory holding model.safetensors (and maybe logits.safetensors), or one
of those files. Two checks:
  logits     when logits.safetensors is there (tutorial 11 writes it): its `images`
             (N, 1, 28, 28), already normalised, go through the PyTorch model and its output is
             compared with vitlab's `logits` (N, 10): max |difference| <= --tolerance (1e-4).
  --images N the first N Fashion-MNIST test images (read from the IDX .gz files in --data),
             normalised as vitlab's DataLoader does, x = (pixel / 255 - 0.2860) / 0.3530; prints
             PyTorch's predictions and accuracy. With --vit build/vit, `vit run` computes
             vitlab's logits for the same images and they are compared too.

Names, timm (vitlab) -> torchvision 0.14 (the inverse of tools/fixtures/vit_small.py's RENAMES):
  patch_embed.proj.*        -> conv_proj.*   (a Conv2d(in_chans, C, P, stride=P); torchvision
                               builds it for 3 channels, so it is replaced for 1-channel data)
  cls_token                 -> class_token           pos_embed -> encoder.pos_embedding
  blocks.{i}.norm1/norm2.*  -> encoder.layers.encoder_layer_{i}.ln_1/ln_2.*
  blocks.{i}.attn.qkv.*     -> ...self_attention.in_proj_weight / in_proj_bias  (q, k, v stacked
                               in the same order, (3C, C))
  blocks.{i}.attn.proj.*    -> ...self_attention.out_proj.*
  blocks.{i}.mlp.fc1/fc2.*  -> ...mlp.0.* / mlp.3.*  (MLPBlock: Linear, GELU, Dropout, Linear, ...)
  norm.*                    -> encoder.ln.*          head.* -> heads.head.*
Both sides use LayerNorm eps 1e-6 and the exact (erf) GELU; the script checks torchvision's eps.

Exit status: 0 when every comparison is within tolerance, 1 when one is not, 2 for a missing or
malformed file (one line on stderr naming the file and what is wrong).
"""
import argparse
import gzip
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fixtures.vit_small import timm_name  # noqa: E402  torchvision name -> timm name

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot"]
MEAN, STD = 0.2860, 0.3530  # dataset/fashion_mnist.h: kFashionMnistMean, kFashionMnistStd

DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2)}


class InputError(Exception):
    """A file that is missing or not what it should be: reported in one line, exit 2."""


# ---- reading and writing safetensors ------------------------------------------------------------

def read_safetensors(path):
    """{name: float32 tensor} from a .safetensors file, every header entry checked."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read it ({e.strerror})")
    if len(blob) < 8:
        raise InputError(f"{path}: {len(blob)} bytes, too short for a safetensors file")
    n = struct.unpack("<Q", blob[:8])[0]
    if n > len(blob) - 8:
        raise InputError(f"{path}: the header claims {n} bytes but the file has {len(blob) - 8}: "
                         f"not a safetensors file, or a truncated one")
    try:
        header = json.loads(blob[8:8 + n])
    except ValueError as e:
        raise InputError(f"{path}: the header is not JSON ({e}); is it a safetensors file?")
    if not isinstance(header, dict):
        raise InputError(f"{path}: the header is not a JSON object")
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = e["dtype"], list(e["shape"]), e["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path}: tensor '{name}': needs dtype, shape and data_offsets")
        if dtype not in DTYPES:
            raise InputError(f"{path}: tensor '{name}' is {dtype}; expected F32, F16 or BF16")
        torch_dtype, size = DTYPES[dtype]
        count = 1
        for s in shape:
            count *= s
        if not 0 <= begin <= end <= len(data) or end - begin != count * size:
            raise InputError(f"{path}: tensor '{name}' {tuple(shape)} {dtype}: data_offsets "
                             f"[{begin}, {end}] do not fit it in the {len(data)} bytes of data")
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=torch_dtype) if count else \
            torch.empty(0, dtype=torch_dtype)
        out[name] = t.reshape(shape).float()
    return out


def write_safetensors(path, tensors):
    """{name: tensor} as F32 safetensors (for `vit run`'s input)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


# ---- the torchvision model ----------------------------------------------------------------------

def infer_config(state, path, num_heads):
    """The architecture from the tensors' shapes (the head count is not in them: --heads)."""
    need = ["patch_embed.proj.weight", "cls_token", "pos_embed", "head.weight",
            "blocks.0.mlp.fc1.weight"]
    missing = [k for k in need if k not in state]
    if missing:
        held = ", ".join(sorted(state)[:5]) + (", ..." if len(state) > 5 else "")
        raise InputError(f"{path}: not a ViT checkpoint in timm naming: no {', '.join(missing)} "
                         f"(it holds {held})")
    C, in_chans, P, _ = state["patch_embed.proj.weight"].shape
    tokens = state["pos_embed"].shape[1]
    grid = int(round((tokens - 1) ** 0.5))
    if grid * grid != tokens - 1:
        raise InputError(f"{path}: pos_embed has {tokens} tokens; expected 1 + a square")
    depth = 1 + max(int(m.group(1)) for k in state
                    for m in [re.match(r"blocks\.(\d+)\.", k)] if m)
    if C % num_heads:
        raise InputError(f"{path}: width {C} is not divisible by --heads {num_heads}")
    return dict(image_size=grid * P, patch_size=P, num_layers=depth, num_heads=num_heads,
                hidden_dim=C, mlp_dim=state["blocks.0.mlp.fc1.weight"].shape[0],
                num_classes=state["head.weight"].shape[0]), in_chans


def torchvision_model(state, path, num_heads):
    """torchvision's VisionTransformer holding the checkpoint's numbers, in eval mode."""
    config, in_chans = infer_config(state, path, num_heads)
    model = torchvision.models.VisionTransformer(**config)
    C, P = config["hidden_dim"], config["patch_size"]
    # torchvision always builds conv_proj for RGB; Fashion-MNIST is grey.
    model.conv_proj = torch.nn.Conv2d(in_chans, C, kernel_size=P, stride=P)
    for m in model.modules():
        if isinstance(m, torch.nn.LayerNorm):
            assert m.eps == 1e-6, f"torchvision's LayerNorm eps is {m.eps}, vitlab's 1e-6"
    to_torchvision = {timm_name(n): n for n in model.state_dict()}
    missing = sorted(set(to_torchvision) - set(state))
    unexpected = sorted(set(state) - set(to_torchvision))
    if missing or unexpected:
        raise InputError(f"{path}: the tensors do not make {config}: missing {missing[:6]}, "
                         f"unexpected {unexpected[:6]}")
    target = model.state_dict()
    renamed = {}
    for timm, tv in to_torchvision.items():
        if state[timm].shape != target[tv].shape:
            raise InputError(f"{path}: {timm} is {tuple(state[timm].shape)}; torchvision's {tv} "
                             f"is {tuple(target[tv].shape)}")
        renamed[tv] = state[timm]
    model.load_state_dict(renamed, strict=True)
    return model.eval(), config


# ---- Fashion-MNIST test images ------------------------------------------------------------------

def read_idx(path):
    """An IDX file (gzip'd or not) as (shape, bytes)."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read it ({e}); install the data with: "
                         f"apt-get install dataset-fashion-mnist")
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] != 8:
        raise InputError(f"{path}: not an IDX file of unsigned bytes")
    dims = blob[3]
    shape = struct.unpack(f">{dims}I", blob[4:4 + 4 * dims])
    return shape, blob[4 + 4 * dims:]


def fashion_mnist_test(data_dir, n):
    """The first n test images, normalised as vitlab's DataLoader does, and their labels."""
    images_path = os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")
    labels_path = os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz")
    shape, pixels = read_idx(images_path)
    _, labels = read_idx(labels_path)
    n = min(n, shape[0])
    x = torch.frombuffer(bytearray(pixels[:n * 28 * 28]), dtype=torch.uint8).float()
    x = (x.reshape(n, 1, 28, 28) / 255.0 - MEAN) / STD
    return x, torch.tensor(list(labels[:n]))


# ---- the checks ---------------------------------------------------------------------------------

def compare(name, vitlab_logits, torch_logits, tolerance):
    diff = (vitlab_logits - torch_logits).abs().max().item()
    same = bool((vitlab_logits.argmax(1) == torch_logits.argmax(1)).all())
    ok = diff <= tolerance
    print(f"[{'ok' if ok else 'FAILED'}] {name}: max |vitlab - PyTorch| = {diff:.3g} over "
          f"{tuple(torch_logits.shape)} logits (tolerance {tolerance:g}); same top-1: {same}")
    return ok


def vit_run(vit, model_path, images, num_heads):
    """vitlab's logits for images through `vit run` (a scratch directory holds the files)."""
    with tempfile.TemporaryDirectory(prefix="vitlab_roundtrip_") as tmp:
        x_path = os.path.join(tmp, "input.safetensors")
        y_path = os.path.join(tmp, "logits.safetensors")
        write_safetensors(x_path, {"input": images})
        # The head count is not in the tensors' shapes: --model names the preset that has it.
        cmd = [vit, "run", "--weights", model_path, "--input", x_path, "--output", y_path]
        cmd += ["--model", "vit_fmnist"] if num_heads == 4 else []
        print("$", " ".join(cmd))
        try:
            subprocess.run(cmd, check=True)
        except OSError as e:
            raise InputError(f"{vit}: cannot run it ({e.strerror}); build it with: make vit")
        except subprocess.CalledProcessError as e:
            raise InputError(f"{vit} run failed with status {e.returncode} (its message is above)")
        return read_safetensors(y_path)["logits"]


def find_files(path, model_arg):
    """(model.safetensors, logits.safetensors or None) from a directory or a file."""
    if os.path.isdir(path):
        model = os.path.join(path, "model.safetensors")
        logits = os.path.join(path, "logits.safetensors")
    elif os.path.basename(path).startswith("logits"):
        model, logits = os.path.join(os.path.dirname(path), "model.safetensors"), path
    else:
        model, logits = path, os.path.join(os.path.dirname(path), "logits.safetensors")
    model = model_arg or model
    if not os.path.isfile(model):
        raise InputError(f"{model}: no such file (expected the model.safetensors that tutorial 11 "
                         f"or `vit train --out DIR` writes)")
    return model, logits if logits and os.path.isfile(logits) else None


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.split("\n")[1:]))
    ap.add_argument("path", help="a directory with model.safetensors [and logits.safetensors], "
                                 "or one of those files")
    ap.add_argument("--model", help="the checkpoint, when it is not PATH/model.safetensors")
    ap.add_argument("--heads", type=int, default=4, help="attention heads (default 4, vit_fmnist)")
    ap.add_argument("--images", type=int, default=0,
                    help="also classify the first N Fashion-MNIST test images")
    ap.add_argument("--data", default=FASHION_MNIST_DIR, help="the Fashion-MNIST IDX files")
    ap.add_argument("--vit", help="with --images: compare with `vit run` of this vit binary")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        model_path, logits_path = find_files(args.path, args.model)
        state = read_safetensors(model_path)
        model, config = torchvision_model(state, model_path, args.heads)
        print(f"{model_path}: {len(state)} tensors, "
              f"{sum(p.numel() for p in model.parameters()):,} parameters -> torchvision "
              f"VisionTransformer({', '.join(f'{k}={v}' for k, v in config.items())}), "
              f"conv_proj {tuple(model.conv_proj.weight.shape)}")
        if logits_path is None and not args.images:
            raise InputError(f"{args.path}: no logits.safetensors beside the model to compare "
                             f"with; give --images N to classify test images instead")
        ok = True
        if logits_path:
            saved = read_safetensors(logits_path)
            for key in ("images", "logits"):
                if key not in saved:
                    raise InputError(f"{logits_path}: no tensor '{key}' (it holds "
                                     f"{', '.join(sorted(saved))}); expected images "
                                     f"(N, 1, 28, 28) and logits (N, 10)")
            images, want = saved["images"], saved["logits"]
            expected_shape = (images.shape[0], config["num_classes"])
            if images.dim() != 4 or tuple(want.shape) != expected_shape:
                raise InputError(f"{logits_path}: images {tuple(images.shape)} and logits "
                                 f"{tuple(want.shape)}; expected (N, C, H, W) and {expected_shape}")
            print(f"{logits_path}: images {tuple(images.shape)}, "
                  f"vitlab's logits {tuple(want.shape)}")
            ok &= compare("vitlab's saved logits", want, model(images), args.tolerance)
        if args.images:
            images, labels = fashion_mnist_test(args.data, args.images)
            got = model(images)
            probs = got.softmax(1)
            for i in range(len(labels)):
                if i < 12:
                    p, c = probs[i].max(0)
                    print(f"  test image {i:2d}: {FASHION_MNIST_CLASSES[c]:<12} {p.item():6.1%}"
                          f"   (label: {FASHION_MNIST_CLASSES[labels[i]]})")
            acc = (got.argmax(1) == labels).float().mean().item()
            print(f"PyTorch's accuracy on the first {len(labels)} test images: {acc:.1%}")
            if args.vit:
                ok &= compare(f"`vit run` on {len(labels)} test images",
                              vit_run(args.vit, model_path, images, args.heads), got,
                              args.tolerance)
    except InputError as e:
        print(f"pytorch_roundtrip.py: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
