#!/usr/bin/env bash
# fuzz/run.sh [SECONDS]: builds the libFuzzer targets (make fuzz: clang, ASan, UBSan) and fuzzes
# each one for SECONDS (default 20), the bounded run CI does.
#
#   fuzz_safetensors  load_safetensors + the checkpoint loader (+ one forward pass if it fits)
#   fuzz_ppm          the PGM/PPM reader + preprocessing
#   fuzz_png_jpeg     decode_image: format detection, PNG/JPEG container checks, stb_image
#
# Seeds: fuzz/corpus/<target>/ (fuzz/make_corpus.py), tests/fixtures/images/ for PNG/JPEG, and
# fuzz/regressions/<target>/. New inputs go to build/fuzz/corpus/<target>/ and are kept for the
# next run. A crash leaves its input in build/fuzz/crashes/<target>/ and makes the script exit 1:
# copy the input to fuzz/regressions/<target>/ (tests/test_cli.cpp runs every file there through
# the `vit` command) and fix the bug.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}

if ! command -v "${FUZZ_CXX:-clang++}" >/dev/null 2>&1; then
    echo "fuzz/run.sh: clang++ is needed (apt-get install clang)"; exit 1
fi
make --no-print-directory fuzz || exit 1

status=0
for target in safetensors ppm png_jpeg; do
    corpus=build/fuzz/corpus/$target
    crashes=build/fuzz/crashes/$target
    log=build/fuzz/$target.log
    mkdir -p "$corpus" "$crashes"
    seeds=(fuzz/corpus/$target)
    case $target in
        png_jpeg) seeds=(fuzz/corpus/ppm tests/fixtures/images) ;;
    esac
    [ -d fuzz/regressions/$target ] && seeds+=(fuzz/regressions/$target)
    extra=()
    [ -f fuzz/$target.dict ] && extra+=(-dict=fuzz/$target.dict)
    # -rss_limit_mb: a reader that trusts a header's sizes would allocate far more than this.
    # -timeout: seconds for one input; a hang (an endless loop) is a crash too.
    build/fuzz/fuzz_$target -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$crashes/" "${extra[@]}" \
        "$corpus" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ $rc -ne 0 ]; then
        echo "fuzz_$target: FAILED after ${runs:-?} runs ($cov); input saved in $crashes/"
        grep -E 'ERROR|SUMMARY|==[0-9]+==|#[0-9]+ 0x' "$log" | head -20
        status=1
    else
        echo "fuzz_$target: ok, ${runs:-?} runs in ${seconds}s, $cov, corpus $(ls "$corpus" | wc -l) files"
    fi
done
exit $status
