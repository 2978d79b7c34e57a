#!/bin/bash
# The runner behind `make fuzz`: each libFuzzer target in turn for SECONDS,
# from its committed seeds (tests/fuzz/corpus/NAME, read only) and what
# earlier runs learnt (build/fuzz/corpus/NAME, where new inputs go).
# A crash input lands in build/fuzz/crashes/NAME/; fix it, then commit it
# under tests/fuzz/corpus/NAME so that `make test` replays it for good.
# Prints one line per target; exits 1 when any target found a crash.
#
# Usage: tests/fuzz/run.sh SECONDS TARGET...
set -u
cd "$(dirname "$0")/../.."

seconds=$1
shift
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=0
for target in "$@"; do
    learnt="build/fuzz/corpus/$target"
    crashes="build/fuzz/crashes/$target"
    log="build/fuzz/$target.log"
    mkdir -p "$learnt" "$crashes"
    "build/fuzz/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
        -max_len=65536 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$crashes/" \
        "$learnt" "tests/fuzz/corpus/$target" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    ncrash=$(find "$crashes" -type f | wc -l)
    printf 'fuzz %-9s %ss, %s execs (%s/s), corpus %s learnt + %s seeds, %s crash inputs\n' \
        "$target" "$seconds" "${execs:-?}" "${speed:-?}" "$(find "$learnt" -type f | wc -l)" \
        "$(find "tests/fuzz/corpus/$target" -type f | wc -l)" "$ncrash"
    if [ "$rc" -ne 0 ] || [ "$ncrash" -ne 0 ]; then
        failed=1
        echo "fuzz $target: exit $rc; see $log and $crashes/" >&2
        grep -m 5 -E 'ERROR|runtime error|SUMMARY' "$log" >&2
    fi
done
exit "$failed"
