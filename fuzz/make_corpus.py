#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into fuzz/corpus/<target>/ (committed; re-run to
regenerate). Plain Python, no torch: the fuzzer only needs well-formed starting points.

  safetensors/  a tiny ViT (image 4, patch 2, width 4, depth 1, 1 head, MLP 8, 3 classes) in
                timm naming as F32, F16 and BF16, in Hugging Face naming, one with metadata,
                and an input tensor file
  ppm/          P2, P3, P5, P6, 16-bit P6, with comments
(png_jpeg uses tests/fixtures/images/ and these PPMs as its seeds: see fuzz/run.sh.)
"""
import json
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
C, P, IMG, M, K = 4, 2, 4, 8, 3  # width, patch, image, MLP, classes; depth 1
T = (IMG // P) ** 2 + 1


def timm_shapes():
    s = {"cls_token": [1, 1, C], "pos_embed": [1, T, C],
         "patch_embed.proj.weight": [C, 3, P, P], "patch_embed.proj.bias": [C],
         "norm.weight": [C], "norm.bias": [C], "head.weight": [K, C], "head.bias": [K]}
    b = "blocks.0."
    s.update({b + "norm1.weight": [C], b + "norm1.bias": [C], b + "norm2.weight": [C],
              b + "norm2.bias": [C], b + "attn.qkv.weight": [3 * C, C], b + "attn.qkv.bias": [3 * C],
              b + "attn.proj.weight": [C, C], b + "attn.proj.bias": [C],
              b + "mlp.fc1.weight": [M, C], b + "mlp.fc1.bias": [M],
              b + "mlp.fc2.weight": [C, M], b + "mlp.fc2.bias": [C]})
    return s


def hf_shapes():
    h, v = "vit.encoder.layer.0.", "vit."
    s = {v + "embeddings.cls_token": [1, 1, C], v + "embeddings.position_embeddings": [1, T, C],
         v + "embeddings.patch_embeddings.projection.weight": [C, 3, P, P],
         v + "embeddings.patch_embeddings.projection.bias": [C],
         v + "layernorm.weight": [C], v + "layernorm.bias": [C],
         "classifier.weight": [K, C], "classifier.bias": [K]}
    for name, shape in [("layernorm_before", [C]), ("layernorm_after", [C]),
                        ("attention.attention.query", [C, C]), ("attention.attention.key", [C, C]),
                        ("attention.attention.value", [C, C]),
                        ("attention.output.dense", [C, C]), ("intermediate.dense", [M, C]),
                        ("output.dense", [C, M])]:
        s[h + name + ".weight"] = shape
        s[h + name + ".bias"] = [shape[0]]
    return s


def encode(values, dtype):
    if dtype == "F32":
        return struct.pack(f"<{len(values)}f", *values)
    if dtype == "F16":
        return struct.pack(f"<{len(values)}e", *values)
    # BF16: the top half of the float32 bits
    return b"".join(struct.pack("<f", v)[2:] for v in values)


def write_safetensors(path, shapes, dtype="F32", metadata=None, rng=random.Random(0)):
    header, blobs, offset = {}, [], 0
    for name in sorted(shapes):
        n = 1
        for d in shapes[name]:
            n *= d
        data = encode([rng.gauss(0, 0.5) for _ in range(n)], dtype)
        header[name] = {"dtype": dtype, "shape": shapes[name],
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    st = os.path.join(HERE, "corpus", "safetensors")
    pm = os.path.join(HERE, "corpus", "ppm")
    os.makedirs(st, exist_ok=True)
    os.makedirs(pm, exist_ok=True)
    for dtype in ("F32", "F16", "BF16"):
        write_safetensors(os.path.join(st, f"timm_{dtype.lower()}.safetensors"), timm_shapes(), dtype)
    write_safetensors(os.path.join(st, "hf_f32.safetensors"), hf_shapes())
    write_safetensors(os.path.join(st, "metadata.safetensors"), timm_shapes(), "F32",
                      {"format": "pt", "model": "vit_tiny"})
    write_safetensors(os.path.join(st, "input.safetensors"), {"input": [1, 3, IMG, IMG]})

    rng = random.Random(1)
    w, h = 5, 3
    px = [rng.randrange(256) for _ in range(w * h * 3)]
    gray = px[: w * h]
    with open(os.path.join(pm, "p6.ppm"), "wb") as f:
        f.write(b"P6\n# seed\n%d %d\n255\n" % (w, h) + bytes(px))
    with open(os.path.join(pm, "p5.pgm"), "wb") as f:
        f.write(b"P5 %d %d 255\n" % (w, h) + bytes(gray))
    with open(os.path.join(pm, "p3.ppm"), "wb") as f:
        f.write(b"P3\n%d %d\n# max\n255\n" % (w, h) + " ".join(map(str, px)).encode() + b"\n")
    with open(os.path.join(pm, "p2.pgm"), "wb") as f:
        f.write(b"P2\n%d %d\n15\n" % (w, h) + " ".join(str(v % 16) for v in gray).encode() + b"\n")
    with open(os.path.join(pm, "p6_16bit.ppm"), "wb") as f:
        f.write(b"P6\n%d %d\n65535\n" % (w, h) + b"".join(struct.pack(">H", v * 257) for v in px))
    for d in (st, pm):
        for name in sorted(os.listdir(d)):
            print(os.path.join(d, name), os.path.getsize(os.path.join(d, name)))


if __name__ == "__main__":
    main()
