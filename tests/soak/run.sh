#!/bin/bash
# `make soak`: the full-size runs on the release build (bin/haechi), with
# the same "ok" / "not ok" lines and the same last line as the test runner:
# the 350,000-member release that `make test` runs on the sanitizer build,
# here at the speed the release build has.
set -u
cd "$(dirname "$0")/../.."
export HAECHI_BIN="$PWD/bin/haechi" HAECHI_ROOT="$PWD" PYTHONDONTWRITEBYTECODE=1
HAECHI_TEST_TMP=$(mktemp -d /tmp/haechi-soak.XXXXXX)
export HAECHI_TEST_TMP
mkdir -p "$HAECHI_TEST_TMP/pids"
cleanup() {
    local f
    for f in "$HAECHI_TEST_TMP"/pids/*; do
        [ -e "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
    rm -rf "$HAECHI_TEST_TMP"
}
trap cleanup EXIT
passed=0 failed=0
for script in tests/integration/test_kakao_350k.py; do
    out=$(python3 "$script" 2>"$HAECHI_TEST_TMP/stderr")
    rc=$?
    printf '%s\n' "$out" | grep -E '^(ok|not ok|#) ' | sed "s|^|[$(basename "$script" .py)] |"
    passed=$((passed + $(printf '%s\n' "$out" | grep -c '^ok ')))
    noks=$(printf '%s\n' "$out" | grep -c '^not ok ')
    failed=$((failed + noks))
    if [ "$rc" -ne 0 ] && [ "$noks" -eq 0 ]; then
        failed=$((failed + 1))
        tail -n 40 "$HAECHI_TEST_TMP/stderr"
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
