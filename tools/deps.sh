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
# .ci/deps-check runs this with a compiler that sees no system headers and an apt-get stub, to
# prove that a bare machine gets doctest-dev and libfmt-dev installed.
set -u

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
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "vitlab: missing packages:$required $optional; install them as root:" \
                "apt-get install$required $optional" >&2
            [ -n "$required" ] && exit 1
            exit 0
        fi
        SUDO=sudo
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
