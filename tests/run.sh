#!/bin/bash
# The test runner behind `make test`.
#
# Runs every unit test binary and every integration script. Each prints one
# line per case, "ok NAME" or "not ok NAME: why"; this script counts them.
# A program that dies, or exits non-zero without reporting a failure, counts
# as one failed case of its own. Every server a test starts records its pid
# under $HAECHI_TEST_TMP/pids; whatever is left there is stopped on exit,
# pass or fail.
set -u
cd "$(dirname "$0")/.."

# The test build's folder: build/test, or build/test-SANITIZER (Makefile).
TEST_DIR=${HAECHI_TEST_DIR:-build/test}
case "$TEST_DIR" in /*) ;; *) TEST_DIR="$PWD/$TEST_DIR" ;; esac
export HAECHI_BIN="$TEST_DIR/haechi"
export HAECHI_ROOT="$PWD"
HAECHI_TEST_TMP=$(mktemp -d /tmp/haechi-test.XXXXXX)
export HAECHI_TEST_TMP
mkdir -p "$HAECHI_TEST_TMP/pids"
# LeakSanitizer runs at exit of every sanitized process.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONDONTWRITEBYTECODE=1

stop_leftovers() {
    local f pid
    for f in "$HAECHI_TEST_TMP"/pids/*; do
        [ -e "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null) || continue
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$HAECHI_TEST_TMP"
}
trap stop_leftovers EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
failures=()

run_one() {
    local name=$1; shift
    local out rc oks noks
    out=$("$@" 2>"$HAECHI_TEST_TMP/stderr")
    rc=$?
    printf '%s\n' "$out" | grep -E '^(ok|not ok) ' | sed "s|^|[$name] |"
    oks=$(printf '%s\n' "$out" | grep -c '^ok ')
    noks=$(printf '%s\n' "$out" | grep -c '^not ok ')
    passed=$((passed + oks))
    failed=$((failed + noks))
    while IFS= read -r line; do
        failures+=("[$name] $line")
    done < <(printf '%s\n' "$out" | grep '^not ok ')
    if [ "$rc" -ne 0 ] && [ "$noks" -eq 0 ]; then
        failed=$((failed + 1))
        failures+=("[$name] not ok exited with status $rc")
        echo "[$name] not ok exited with status $rc; its stderr:"
        tail -n 40 "$HAECHI_TEST_TMP/stderr"
    elif [ "$noks" -ne 0 ]; then
        echo "[$name] stderr (last 40 lines):"
        tail -n 40 "$HAECHI_TEST_TMP/stderr"
    fi
}

for bin in "$TEST_DIR"/unit/test_*; do
    [ -x "$bin" ] || continue
    run_one "unit/$(basename "$bin")" "$bin"
done

# Every fuzz target once over its committed corpus (seeds and fixed crashes).
for bin in "$TEST_DIR"/fuzz/replay_*; do
    [ -x "$bin" ] || continue
    target=${bin##*/replay_}
    run_one "fuzz/$target" "$bin" "tests/fuzz/corpus/$target"
done

# The house style (.clang-format), as one case.
check_format() {
    local out files
    if ! command -v clang-format >/dev/null; then
        echo "not ok format: clang-format is not installed (make deps)"
    elif out=$(clang-format --dry-run -Werror scheduler/*.[ch] adapters/*.[ch] \
        tests/unit/*.[ch] tests/fuzz/*.[ch] tests/fakes/*.[ch] 2>&1); then
        echo "ok format"
    else
        files=$(printf '%s\n' "$out" | sed -n 's/^\([^: ]*\):[0-9]*:[0-9]*: error:.*/\1/p' |
            sort -u | tr '\n' ' ')
        files=${files% }
        echo "not ok format: ${files:-clang-format failed} differ from .clang-format (make format)"
        printf '%s\n' "$out" >&2
    fi
}
run_one "format" check_format

for script in tests/validate/test_*.py tests/integration/test_*.py; do
    [ -f "$script" ] || continue
    # HAECHI_TEST_ONLY (script names, e.g. "test_cli") picks a subset.
    case " ${HAECHI_TEST_ONLY:-$(basename "$script" .py)} " in
        *" $(basename "$script" .py) "*) ;;
        *) continue ;;
    esac
    run_one "$(basename "$(dirname "$script")")/$(basename "$script" .py)" python3 "$script"
done

if [ ${#failures[@]} -gt 0 ]; then
    echo
    echo "Failures:"
    printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
