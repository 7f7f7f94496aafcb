#!/usr/bin/env python3
"""Corrupt-file sweep of the `vit` command: every truncation of a checkpoint's header and every
single-bit flip of it, each run through `build/vit`, which must answer with exit status 0 (the
file still makes sense) or 2 and one line on stderr naming the file; never a signal, a hang
(10 s limit), a second line or an empty message.

    /usr/bin/python3 fuzz/corrupt_sweep.py [CHECKPOINT] [--heads 4] [--command info|classify]
        [--bits all|one] [--data N]

CHECKPOINT defaults to tests/fixtures/checkpoint_timm.safetensors (width 32: --heads 4).
--bits all flips each of the 8 bits of every header byte (one: bit i % 8 of byte i); --data N
also truncates at N evenly spaced offsets of the data section. `classify` also builds the model
and runs an image through it whenever the file still loads. Prints a tally of the outcomes.
"""
import argparse
import collections
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", nargs="?",
                    default=os.path.join(ROOT, "tests", "fixtures", "checkpoint_timm.safetensors"))
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--command", choices=["info", "classify"], default="info")
    ap.add_argument("--bits", choices=["all", "one"], default="all")
    ap.add_argument("--data", type=int, default=64)
    ap.add_argument("--vit", default=os.path.join(ROOT, "build", "vit"))
    args = ap.parse_args()

    original = open(args.checkpoint, "rb").read()
    header = struct.unpack("<Q", original[:8])[0]
    data_start = 8 + header
    tmp = tempfile.mkdtemp(prefix="vitlab_sweep_")  # removed at the end
    path = os.path.join(tmp, "corrupt.safetensors")
    image = os.path.join(tmp, "image.ppm")
    with open(image, "wb") as f:
        f.write(b"P6\n40 30\n255\n" + bytes(range(256)) * (40 * 30 * 3 // 256) +
                bytes(40 * 30 * 3 % 256))

    tally = collections.Counter()
    problems = []

    def write(data):
        if os.path.exists(path):
            os.remove(path)  # not truncate-and-rewrite: ext4 would flush it to disk each time
        with open(path, "wb") as f:
            f.write(data)

    def run(data, what):
        if data is not None:
            write(data)
        cmd = [args.vit, args.command, "--weights", path, "--heads", str(args.heads)]
        if args.command == "classify":
            cmd.append(image)
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            problems.append(f"{what}: hang (over 10 s)")
            return
        err = r.stderr.decode("utf-8", "replace")
        if r.returncode == 0:
            tally["still a valid checkpoint (exit 0)"] += 1
        elif r.returncode == 2 and err.count("\n") == 1 and path in err:
            # Tally by the kind of message, without the numbers and names in it.
            kind = err.split(path, 1)[1].strip("': \n")
            kind = re.sub(r"'[^']*'", "'…'", kind)
            kind = re.sub(r'"[^"]*"', '"…"', kind)
            kind = re.sub(r"\d+", "N", kind)[:70]
            tally["exit 2: " + kind] += 1
        else:
            problems.append(f"{what}: exit {r.returncode}, stderr {err!r}")

    for n in range(data_start + 1):
        run(original[:n], f"truncated to {n} bytes")
    for i in range(1, args.data + 1):
        n = data_start + (len(original) - data_start) * i // (args.data + 1)
        run(original[:n], f"truncated to {n} bytes")
    truncations = sum(tally.values()) + len(problems)
    print(f"{truncations} truncations (every offset of the {data_start}-byte length + header, "
          f"{args.data} in the data)")

    # Flips are made in place in one copy of the file (a checkpoint can be large) and undone.
    write(original)
    flips = 0
    fd = os.open(path, os.O_RDWR)
    for i in range(data_start):
        for bit in (range(8) if args.bits == "all" else [i % 8]):
            os.pwrite(fd, bytes([original[i] ^ (1 << bit)]), i)
            run(None, f"bit {bit} of byte {i} flipped")
            os.pwrite(fd, original[i:i + 1], i)
            flips += 1
    os.close(fd)
    print(f"{flips} bit flips in the header; {args.command} outcomes over all "
          f"{truncations + flips} files:")
    for kind, n in tally.most_common(25):
        print(f"  {n:6d}  {kind}")
    if len(tally) > 25:
        print(f"  {sum(n for _, n in tally.most_common()[25:]):6d}  ({len(tally) - 25} other kinds)")
    for p in problems[:20]:
        print("PROBLEM:", p)
    print(f"{len(problems)} problems")
    shutil.rmtree(tmp)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
