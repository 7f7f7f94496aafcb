#!/usr/bin/env python3
"""Corrupt-file sweep of the `vit` command: every truncation of a checkpoint's header and every
single-bit flip of it, each run through `build/vit`, which must answer with exit status 0 (the
file still makes sense) or 2 and one line on stderr naming the file; never a signal, a hang
(10 s limit), a second line or an empty message. --part targets also sweeps output targets
(`vit run --output` at devices, FIFOs, sockets, directories, links, the inputs themselves, a
full stdout) and environment variables (VITLAB_THREADS, VITLAB_NO_MMAP, VITLAB_PROGRESS),
checking in addition that a refused target is left as it was and that no temporary file stays
behind.

    /usr/bin/python3 fuzz/corrupt_sweep.py [CHECKPOINT] [--heads 4] [--command info|classify]
        [--bits all|one] [--data N] [--part all|header|targets]

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
import socket
import stat
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
    ap.add_argument("--part", choices=["all", "header", "targets"], default="all")
    args = ap.parse_args()
    status = 0
    if args.part in ("all", "targets"):
        status |= sweep_targets(args)
    if args.part in ("all", "header"):
        status |= sweep_header(args)
    sys.exit(status)


def run_vit(cmd, env=None, stdout=subprocess.PIPE):
    """(exit status, stderr) of one run, or (None, "hang") after 10 s."""
    try:
        r = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, timeout=10,
                           env=None if env is None else {**os.environ, **env})
    except subprocess.TimeoutExpired:
        return None, "hang (over 10 s)"
    return r.returncode, r.stderr.decode("utf-8", "replace")


def snapshot(path):
    """What a target is: its type, and its bytes when it is a regular file."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return ("missing",)
    except OSError as e:  # a name too long, a link loop
        return ("unreachable", e.errno)
    if stat.S_ISREG(st.st_mode):
        return ("file", open(path, "rb").read())
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    return ("other", stat.S_IFMT(st.st_mode), st.st_rdev)


def sweep_targets(args):
    """Output targets and environment variables; returns 1 if any case went wrong."""
    tmp = tempfile.mkdtemp(prefix="vitlab_targets_")
    weights = os.path.join(tmp, "w.safetensors")
    shutil.copy(args.checkpoint, weights)
    inputs = os.path.join(ROOT, "tests", "fixtures", "checkpoint_io.safetensors")
    x = os.path.join(tmp, "x.safetensors")
    shutil.copy(inputs, x)
    image = os.path.join(tmp, "image.ppm")
    with open(image, "wb") as f:
        f.write(b"P6\n32 32\n255\n" + bytes(range(256)) * 12)
    base = [args.vit, "run", "--weights", weights, "--heads", str(args.heads), "--input", x,
            "--input-key", "input"]
    problems, tally = [], collections.Counter()
    root = os.geteuid() == 0

    def make(kind, p):
        if kind == "fifo":
            os.mkfifo(p)
        elif kind in ("null", "full"):
            os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(1, 3 if kind == "null" else 7))
        elif kind == "socket":
            s = socket.socket(socket.AF_UNIX)
            s.bind(p)
            s.close()
        elif kind == "dir":
            os.mkdir(p)
        elif kind == "file":
            open(p, "wb").write(b"precious")

    # (name, set-up, expected statuses, must the target stay as it was)
    cases = [("a new file", lambda d: os.path.join(d, "y.safetensors"), {0}, False),
             ("an existing file", lambda d: (make("file", d + "/y"), d + "/y")[1], {0}, False),
             ("a directory", lambda d: (make("dir", d + "/y"), d + "/y")[1], {2}, True),
             ("a FIFO", lambda d: (make("fifo", d + "/y"), d + "/y")[1], {2}, True),
             ("a socket", lambda d: (make("socket", d + "/y"), d + "/y")[1], {2}, True),
             ("a link to a file", lambda d: (make("file", d + "/t"), os.symlink("t", d + "/y"),
                                             d + "/y")[2], {0}, False),
             ("a link to a FIFO", lambda d: (make("fifo", d + "/t"), os.symlink("t", d + "/y"),
                                             d + "/y")[2], {2}, True),
             ("a dangling link", lambda d: (os.symlink("t", d + "/y"), d + "/y")[1], {0}, False),
             ("a link loop", lambda d: (os.symlink("y", d + "/z"), os.symlink("z", d + "/y"),
                                        d + "/y")[2], {2}, True),
             ("a missing directory", lambda d: d + "/no/such/y", {2}, True),
             ("an empty name", lambda d: "", {2}, True),
             ("a name ending in /", lambda d: d + "/y/", {2}, True),
             ("a name too long", lambda d: d + "/" + "y" * 300, {2}, True),
             ("the weights", lambda d: weights, {2}, True),
             ("the input", lambda d: x, {2}, True),
             ("a hard link to the weights", lambda d: (os.link(weights, d + "/y"), d + "/y")[1],
              {2}, True),
             ("a link to the input", lambda d: (os.symlink(x, d + "/y"), d + "/y")[1], {2}, True),
             ("the input spelled ./", lambda d: os.path.dirname(x) + "/./x.safetensors", {2},
              True),
             ("/dev/stdout (a pipe)", lambda d: "/dev/stdout", {0, 2}, False)]
    if root:
        cases += [("a character device like /dev/null",
                   lambda d: (make("null", d + "/y"), d + "/y")[1], {2}, True),
                  ("a character device like /dev/full",
                   lambda d: (make("full", d + "/y"), d + "/y")[1], {2}, True)]
    for i, (name, setup, expected, kept) in enumerate(cases):
        d = os.path.join(tmp, f"case{i}")
        os.mkdir(d)
        target = setup(d)
        before = snapshot(target) if target else None
        inputs_before = (snapshot(weights), snapshot(x))
        code, err = run_vit(base + ["--output", target])
        ok = code in expected and (code == 0 or err.count("\n") == 1)
        if kept and target and snapshot(target) != before:
            ok, err = False, f"the target changed ({before[0]} -> {snapshot(target)[0]}); " + err
        if (snapshot(weights), snapshot(x)) != inputs_before:
            ok, err = False, "an input changed; " + err
        left = [n for r, _, files in os.walk(tmp) for n in files if ".vitlab-" in n]
        if left:
            ok, err = False, f"temporary files left: {left}; " + err
        tally[f"--output {name}: exit {code}"] += 1
        if not ok:
            problems.append(f"--output {name}: exit {code}, stderr {err!r}")

    # The environment, with and without --threads (which wins).
    cmd = [args.vit, "classify", "--weights", weights, "--heads", str(args.heads), image]
    for value in ["", "0", "1", "2", "1024", "1025", "-1", "abc", "4x", " 3", "9" * 30]:
        for extra in ([], ["--threads", "2"]):
            code, err = run_vit(cmd + extra, env={"VITLAB_THREADS": value})
            valid = value.strip() == value and value.isdigit() and 1 <= int(value) <= 1024
            expected = 0 if (extra or valid) else 2
            tally[f"VITLAB_THREADS={value!r}{' --threads 2' if extra else ''}: exit {code}"] += 1
            if code != expected or (code == 2 and "VITLAB_THREADS" not in err):
                problems.append(f"VITLAB_THREADS={value!r} {extra}: exit {code}, stderr {err!r}")
    for name in ("VITLAB_NO_MMAP", "VITLAB_PROGRESS"):
        for value in ["", "0", "1", "yes", "\xff"]:
            code, err = run_vit(cmd + [image], env={name: value})  # two images: a progress bar
            tally[f"{name}={value!r}: exit {code}"] += 1
            if code != 0:
                problems.append(f"{name}={value!r}: exit {code}, stderr {err!r}")

    # A full disk on stdout: every command must fail, not exit 0 with nothing written.
    if os.access("/dev/full", os.W_OK):
        for command in (["info", "--weights", weights, "--heads", str(args.heads)],
                        ["classify", "--json", "--weights", weights, "--heads", str(args.heads),
                         image],
                        ["summary", "--weights", weights, "--heads", str(args.heads)],
                        ["explain", "--weights", weights, "--heads", str(args.heads), image,
                         "--out", os.path.join(tmp, "pictures")],
                        ["--help"]):
            with open("/dev/full", "wb") as full:
                code, err = run_vit([args.vit] + command, stdout=full)
            tally[f"vit {command[0]} > /dev/full: exit {code}"] += 1
            if code != 2 or "cannot write the output" not in err:
                problems.append(f"vit {command[0]} > /dev/full: exit {code}, stderr {err!r}")

    print(f"{sum(tally.values())} output targets, environments and full stdouts:")
    for kind, n in sorted(tally.items()):
        print(f"  {n:3d}  {kind}")
    for p in problems:
        print("PROBLEM:", p)
    print(f"{len(problems)} problems")
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if problems else 0


def sweep_header(args):

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
    return 1 if problems else 0


if __name__ == "__main__":
    main()
