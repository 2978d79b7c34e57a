#!/bin/bash
# The runner behind `make valgrind`: the unit tests, the fuzz corpus
# replays and a short integration subset under valgrind's memcheck, on the
# test build without sanitizers (HAECHI_TEST_DIR, build/test-none). A
# memory error or a definite leak makes valgrind exit 99, which tests/run.sh
# counts as a failed case; the final line is run.sh's "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

dir=${HAECHI_TEST_DIR:-build/test-none}
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite)
work=$(mktemp -d /tmp/haechi-valgrind.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The daemon of the integration subset runs under valgrind too: a wrapper
# that execs it keeps the pid the harness signals. It is slow, so the
# harness's deadlines get room.
cat >"$work/haechi" <<WRAP
#!/bin/sh
exec ${VG[*]} "$PWD/$dir/haechi" "\$@"
WRAP
chmod +x "$work/haechi"
mkdir -p "$work/unit" "$work/fuzz"
for bin in "$dir"/unit/test_* "$dir"/fuzz/replay_*; do
    [ -x "$bin" ] || continue
    kind=$(basename "$(dirname "$bin")")
    printf '#!/bin/sh\nexec %s "%s" "$@"\n' "${VG[*]}" "$PWD/$bin" >"$work/$kind/${bin##*/}"
    chmod +x "$work/$kind/${bin##*/}"
done

HAECHI_TEST_DIR="$work" HAECHI_TEST_ONLY="test_config test_cli" ./tests/run.sh
