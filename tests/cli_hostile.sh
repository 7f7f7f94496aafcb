#!/usr/bin/env bash
# cli_hostile.sh: the `vit` binary against hostile surroundings (issue 11): output targets that
# must not be destroyed, a broken environment, a full disk on stdout, files that never end or
# never arrive, headers built to exhaust memory. Each case must end with the expected exit
# status and one line on stderr holding the expected words, within 20 s and under a memory limit.
#
#   tests/cli_hostile.sh [VIT]      VIT defaults to build/vit (make vit)
# Prints one line per case and "N passed, M failed"; exits 1 if any failed.
set -u
cd "$(dirname "$0")/.."
VIT=${1:-build/vit}
W=tests/fixtures/checkpoint_timm.safetensors
[ -x "$VIT" ] || { echo "no $VIT: run make vit"; exit 1; }
TMP=$(mktemp -d /tmp/vitlab_cli_hostile_XXXXXX)
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0

# expect NAME STATUS WORDS -- COMMAND...: runs COMMAND (stdout to $TMP/out unless the command
# redirects it), under 20 s and 1.5 GB of address space.
expect() {
    local name=$1 status=$2 words=$3
    shift 4
    local rc
    (ulimit -v 1500000; exec timeout 20 "$@") >"$TMP/out" 2>"$TMP/err"
    rc=$?
    local lines
    lines=$(wc -l <"$TMP/err")
    if [ "$rc" -ne "$status" ]; then
        echo "FAIL $name: exit $rc, expected $status; stderr: $(head -c 300 "$TMP/err")"
        failed=$((failed + 1))
    elif [ "$status" -ne 0 ] && { [ "$lines" -ne 1 ] || ! grep -qF -- "$words" "$TMP/err"; }; then
        echo "FAIL $name: stderr ($lines lines) lacks '$words': $(head -c 300 "$TMP/err")"
        failed=$((failed + 1))
    else
        echo "ok   $name"
        passed=$((passed + 1))
    fi
}

# check NAME CONDITION...: a condition on the files after a case.
check() {
    local name=$1
    shift
    if "$@"; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        failed=$((failed + 1))
    fi
}

printf 'P6\n32 32\n255\n' >"$TMP/rgb.ppm"
head -c 3072 /dev/urandom >>"$TMP/rgb.ppm"
cp "$W" "$TMP/w.safetensors"
# The input for `run`: the 'input' tensor of the checkpoint_io fixture.
X=tests/fixtures/checkpoint_io.safetensors
RUN=(run --weights "$TMP/w.safetensors" --heads 4 --input "$X" --input-key input)

# ---- 1. output targets -------------------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
    mknod "$TMP/null" c 1 3 && mknod "$TMP/full" c 1 7
    expect "run --output a character device" 2 "is a character device" -- \
        "$VIT" "${RUN[@]}" --output "$TMP/null"
    check "  the device is still a device" test -c "$TMP/null"
    expect "run --output a /dev/full node" 2 "is a character device" -- \
        "$VIT" "${RUN[@]}" --output "$TMP/full"
    check "  it is still a device" test -c "$TMP/full"
fi
mkfifo "$TMP/fifo"
expect "run --output a FIFO" 2 "is a FIFO (named pipe)" -- "$VIT" "${RUN[@]}" --output "$TMP/fifo"
check "  the FIFO is still a FIFO" test -p "$TMP/fifo"
expect "run --output a directory" 2 "is a directory" -- "$VIT" "${RUN[@]}" --output "$TMP"
echo keep >"$TMP/target.safetensors"
ln -s target.safetensors "$TMP/link.safetensors"
expect "run --output a symbolic link" 0 "" -- "$VIT" "${RUN[@]}" --output "$TMP/link.safetensors"
check "  the link is still a link" test -L "$TMP/link.safetensors"
check "  its target was rewritten" bash -c "! echo keep | cmp -s - $TMP/target.safetensors"
cmp -s "$W" "$TMP/w.safetensors" || echo "setup: w.safetensors differs"
expect "run --output = --weights" 2 "is the same file as the input" -- \
    "$VIT" "${RUN[@]}" --output "$TMP/w.safetensors"
check "  the weights are unchanged" cmp -s "$W" "$TMP/w.safetensors"
ln "$TMP/w.safetensors" "$TMP/hard.safetensors"
expect "run --output = a hard link to --weights" 2 "is the same file as the input" -- \
    "$VIT" "${RUN[@]}" --output "$TMP/hard.safetensors"
expect "run --output = --input (another spelling)" 2 "is the same file as the input" -- \
    "$VIT" "${RUN[@]}" --output "./$X"
check "  no temporary file is left" test -z "$(find "$TMP" -name '*.vitlab*')"

# ---- 2. the environment ------------------------------------------------------------------------
for value in "" abc 0 5000 -1 99999999999999999999; do
    expect "VITLAB_THREADS='$value'" 2 "VITLAB_THREADS must be a whole number from 1 to 1024" -- \
        env VITLAB_THREADS="$value" "$VIT" classify --weights "$W" --heads 4 "$TMP/rgb.ppm"
    expect "VITLAB_THREADS='$value' with --threads 2" 0 "" -- \
        env VITLAB_THREADS="$value" "$VIT" classify --weights "$W" --heads 4 --threads 2 \
        "$TMP/rgb.ppm"
done
# Threads that cannot start (their stacks do not fit under the memory limit): the machine's
# problem, not the image's.
expect "1000 threads that cannot start" 2 "cannot start 999 worker threads" -- \
    bash -c "ulimit -v 400000
             exec $VIT classify --weights $W --heads 4 --threads 1000 $TMP/rgb.ppm"
check "  the image is not blamed" bash -c "! grep -q 'rgb.ppm:' $TMP/err"

# ---- 3. a full disk on stdout ------------------------------------------------------------------
if [ -w /dev/full ]; then
    for cmd in "info --weights $W --heads 4" \
        "classify --json --weights $W --heads 4 $TMP/rgb.ppm" \
        "summary --weights $W --heads 4" \
        "run --weights $W --heads 4 --input $X --input-key input --output $TMP/y.safetensors" \
        "explain --weights $W --heads 4 $TMP/rgb.ppm --out $TMP/pictures" \
        "--help"; do
        expect "vit $cmd >/dev/full" 2 "cannot write the output" -- \
            bash -c "exec $VIT $cmd >/dev/full"
    done
fi

# ---- 4. files that never end or never arrive ---------------------------------------------------
expect "--weights a FIFO without a writer" 2 "file is 0 bytes" -- \
    "$VIT" info --weights "$TMP/fifo" --heads 4
expect "IMAGE a FIFO without a writer" 2 "fifo: empty file" -- \
    "$VIT" classify --weights "$W" --heads 4 "$TMP/fifo"
expect "--labels a FIFO without a writer" 2 "has 0 class names, expected 10" -- \
    "$VIT" classify --weights "$W" --heads 4 --labels "$TMP/fifo" "$TMP/rgb.ppm"
expect "--weights /dev/zero" 2 "header length is 0" -- "$VIT" info --weights /dev/zero
expect "IMAGE /dev/zero" 2 "unknown image format (first bytes 00 00" -- \
    "$VIT" classify --weights "$W" --heads 4 /dev/zero
expect "--labels /dev/zero" 2 "line 1 is longer than 4096 bytes" -- \
    "$VIT" classify --weights "$W" --heads 4 --labels /dev/zero "$TMP/rgb.ppm"
expect "--weights through a pipe" 0 "" -- \
    bash -c "cat $W | exec $VIT info --weights /dev/stdin --heads 4"

# ---- 5. headers built to exhaust memory (each is a few MB; 1.5 GB is the limit) -----------------
header_file() {  # header_file PATH [DATA_BYTES] <JSON: a safetensors file with that header
    python3 -c '
import struct, sys
path, data = sys.argv[1], int(sys.argv[2])
header = sys.stdin.buffer.read()
header += b" " * (-len(header) % 8)
open(path, "wb").write(struct.pack("<Q", len(header)) + header + bytes(data))
' "$1" "${2:-0}"
}
if command -v python3 >/dev/null; then
    n=3000000
    { printf '{"a":['; yes 0, | head -n $n | tr -d '\n'; printf '0]}'; } |
        header_file "$TMP/array.safetensors"
    expect "an entry that is a 6 MB array" 2 "more than 8 elements in the array" -- \
        "$VIT" info --weights "$TMP/array.safetensors"
    { printf '{"a":{"dtype":"F32","shape":['; yes 1, | head -n $n | tr -d '\n'
      printf '1],"data_offsets":[0,4]}}'; } | header_file "$TMP/shape.safetensors" 4
    expect "a 6 MB shape" 2 "more than 8 elements in the array" -- \
        "$VIT" info --weights "$TMP/shape.safetensors"
    { printf '{"patch_embed.proj.weight":{"dtype":"F32","shape":[8,3,4,4],"data_offsets":[0,1536]},'
      printf '"pos_embed":{"dtype":"F32","shape":[1,5,8],"data_offsets":[1536,1696]},'
      entry='"blocks.&.z":{"dtype":"F32","shape":[0],"data_offsets":[1696,1696]}'
      seq 0 199999 | sed "s/.*/$entry/" |
          paste -sd, | tr -d '\n'
      printf '}'; } | header_file "$TMP/blocks.safetensors" 1696
    expect "200000 zero-size blocks.N tensors" 2 "block 1000 is more than the deepest model" -- \
        "$VIT" info --weights "$TMP/blocks.safetensors" --heads 4
fi

# vit train: a missing dataset, an --out that is a file, and Ctrl-C (with the real dataset only).
expect "train: no dataset" 2 "apt-get install dataset-fashion-mnist" -- \
    "$VIT" train --data fashion-mnist --data-dir "$TMP/no_dataset" --out "$TMP/run"
echo keep >"$TMP/outfile"
expect "train --out a file" 2 "is not a directory" -- \
    "$VIT" train --data fashion-mnist --out "$TMP/outfile"
check "  the file is unchanged" bash -c "echo keep | cmp -s - $TMP/outfile"
FMNIST=/usr/share/datasets/fashion-mnist
if [ -f "$FMNIST/train-images-idx3-ubyte.gz" ]; then
    # SIGINT after 4 s: the step finishes, a mid-epoch checkpoint is saved, exit status 130.
    timeout --preserve-status -s INT 4 "$VIT" train --data fashion-mnist --out "$TMP/sigint" \
        --epochs 100 --train-limit 2560 --test-limit 100 --threads 1 >"$TMP/out" 2>"$TMP/err"
    rc=$?
    check "train: Ctrl-C exits 130 (got $rc)" test "$rc" -eq 130
    check "  saying it saved a mid-epoch checkpoint" grep -q "saved a mid-epoch checkpoint" "$TMP/err"
    check "  which says so in its metadata" grep -aq '"mid_epoch":"true"' "$TMP/sigint/model.safetensors"
    expect "  and classify loads it" 0 "" -- "$VIT" classify --weights "$TMP/sigint/model.safetensors" \
        "$TMP/rgb.ppm"
fi

# An unknown VITLAB_ISA: a message naming the choices and exit 2, from vit and from a program
# without a try block of its own (tutorials/common.h, bench/bench.h: exit_on_uncaught.h).
expect "VITLAB_ISA=bogus" 2 "expected portable, avx2 or avx512" -- \
    env VITLAB_ISA=bogus "$VIT" classify --weights "$W" --heads 4 "$TMP/rgb.ppm"
T01=build/tutorials/01_patch_embedding
if [ -x "$T01" ]; then  # built by make run, which CI runs first
    expect "VITLAB_ISA=bogus, tutorial 01" 2 "expected portable, avx2 or avx512" -- \
        env VITLAB_ISA=bogus "$T01"
fi

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
