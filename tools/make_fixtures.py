#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures under tests/fixtures/.

Developer tool, not needed by CI (the fixtures are committed). Run it with Debian's torch:
    apt-get install python3-torch python3-torchvision
    /usr/bin/python3 tools/make_fixtures.py
Every module in tools/fixtures/ (but common.py) contributes a make(out_dir) function.
"""
import importlib
import os
import pkgutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fixtures  # noqa: E402


def main():
    out_dir = os.path.join(HERE, "..", "tests", "fixtures")
    names = sorted(m.name for m in pkgutil.iter_modules(fixtures.__path__) if m.name != "common")
    only = sys.argv[1:]
    for name in names:
        if only and name not in only:
            continue
        importlib.import_module(f"fixtures.{name}").make(out_dir)
    total = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f"fixtures total: {total} bytes")
    if total > 2 * 1024 * 1024:
        sys.exit("fixtures exceed 2 MB: make the cases smaller")


if __name__ == "__main__":
    main()
