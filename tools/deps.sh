#!/bin/sh
# tools/deps.sh: makes sure the headers vitlab builds against are there, and installs what is
# missing. `make deps` runs it (every build target depends on deps), with the Makefile's CXX
# and EXTRA_INC in the environment.
#
#   required  doctest/doctest.h (doctest-dev, the tests), fmt/format.h (libfmt-dev, the library),
#             zlib.h (zlib1g-dev: dataset/ reads the gzip'd Fashion-MNIST files)
#   optional  stb/stb_image.h   (libstb-dev: PNG/JPEG reading; without it PPM still works)
#
# A header counts as present when it preprocesses with the compiler the build will use, so a
# compiler that looks elsewhere (another prefix, -nostdinc) is asked, not the file system.
#
# Why a script and not $(shell ...) in the Makefile: GNU make 4.3 changed how '#' is read
# inside a function call (its NEWS: "\#" now stays "\#"), so the old in-Makefile check fed the
# compiler the harmless line '\#include <...>' and said "present" for every header. Here the
# '#' is plain shell text, the same for every make version.
#
# `tools/deps.sh --data` (make deps-data: `make run` and `make train`, never `make test`) checks
# instead for the Fashion-MNIST files tutorial 11 and `vit train` read, in FASHION_MNIST_DIR
# (default /usr/share/datasets/fashion-mnist), and installs Debian's dataset-fashion-mnist when
# they are missing. Without apt-get it says where to get them and exits 0: tutorial 11 then
# says it is skipped, and everything else still runs.
#
# .ci/deps-check runs this with a compiler that sees no system headers and an apt-get stub, to
# prove that a bare machine gets doctest-dev and libfmt-dev installed.
set -u

# The program to run as root: "" when we are root, sudo otherwise, or nothing (exit 1) when
# there is no sudo either.
root_prefix() {
    if [ "$(id -u)" = 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        return 1
    fi
}

if [ "${1:-}" = "--data" ]; then
    dir=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
    have_data() {
        for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
            t10k-labels-idx1-ubyte; do
            [ -r "$dir/$f.gz" ] || return 1
        done
    }
    have_data && exit 0
    if command -v apt-get >/dev/null 2>&1 && root_prefix; then
        echo "vitlab: installing dataset-fashion-mnist with apt-get (Fashion-MNIST, for training)"
        $SUDO apt-get update -qq || { echo "vitlab: apt-get update failed" >&2; exit 1; }
        if ! $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null; then
            echo "vitlab: apt-get install dataset-fashion-mnist failed; install it by hand" >&2
            exit 1
        fi
        have_data && exit 0
        echo "vitlab: dataset-fashion-mnist is installed but $dir lacks its four .gz files" >&2
        exit 1
    fi
    echo "vitlab: Fashion-MNIST is not in $dir: apt-get install dataset-fashion-mnist, or put" \
        "the four .gz files of github.com/zalandoresearch/fashion-mnist there (or set" \
        "FASHION_MNIST_DIR); the training tutorial and vit train need them" >&2
    exit 0
fi

CXX=${CXX:-c++}
EXTRA_INC=${EXTRA_INC:-}

have() {
    # shellcheck disable=SC2086  # CXX and EXTRA_INC may hold several words ("g++ -m64").
    printf '#include <%s>\n' "$1" | $CXX -std=c++17 $EXTRA_INC -E -x c++ - >/dev/null 2>&1
}
have_stb() { have stb/stb_image.h || have stb_image.h; }

# Prints the Debian packages whose headers are missing.
missing_required() {
    have doctest/doctest.h || printf ' doctest-dev'
    have fmt/format.h || printf ' libfmt-dev'
    have zlib.h || printf ' zlib1g-dev'
}

required=$(missing_required)
optional=""
have_stb || optional="libstb-dev"
[ -z "$required" ] && [ -z "$optional" ] && exit 0

if command -v apt-get >/dev/null 2>&1; then
    if ! root_prefix; then
        echo "vitlab: missing packages:$required $optional; install them as root:" \
            "apt-get install$required $optional" >&2
        [ -n "$required" ] && exit 1
        exit 0
    fi
    if [ -n "$required" ]; then
        echo "vitlab: installing$required with apt-get (needed to build)"
        $SUDO apt-get update -qq || { echo "vitlab: apt-get update failed" >&2; exit 1; }
        # shellcheck disable=SC2086
        if ! $SUDO apt-get install -y -qq $required >/dev/null; then
            echo "vitlab: apt-get install$required failed; install them by hand" >&2
            exit 1
        fi
        required=$(missing_required)
        if [ -n "$required" ]; then
            echo "vitlab: after installing, these headers still do not compile with '$CXX':$required" >&2
            exit 1
        fi
    fi
    if [ -n "$optional" ]; then
        echo "vitlab: installing libstb-dev with apt-get (PNG/JPEG reading)"
        if ! $SUDO apt-get install -y -qq libstb-dev >/dev/null 2>&1 || ! have_stb; then
            echo "vitlab: libstb-dev is not available; PNG/JPEG reading is disabled (PPM works)"
        fi
    fi
    exit 0
fi

if command -v brew >/dev/null 2>&1; then
    pkgs=$(printf '%s' "$required" | sed -e 's/doctest-dev/doctest/' -e 's/libfmt-dev/fmt/' \
        -e 's/zlib1g-dev/zlib/')
    [ -n "$optional" ] && pkgs="$pkgs stb"
    echo "vitlab: missing headers; install them with: brew install$pkgs" >&2
else
    echo "vitlab: missing packages (Debian names):$required $optional;" \
        "install doctest and fmt (and stb) with your package manager" >&2
fi
[ -n "$required" ] && exit 1
echo "vitlab: continuing without stb: PNG/JPEG reading is disabled (PPM works)"
exit 0
