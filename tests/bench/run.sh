#!/bin/bash
# `make bench`: haechi's release engine against BullMQ on one private
# redis-server, in one run. Installs the peer (npm, into build/bench) and
# prints a table of the two and their ratio; results also land in
# build/bench/results.md and results.json.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/build/bench
mkdir -p "$OUT"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "bench: installing nodejs and npm (Debian packages)" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get install -y -q nodejs npm >/dev/null
fi
cp tests/bench/package.json tests/bench/bench.mjs "$OUT/"
if [ ! -d "$OUT/node_modules/bullmq" ]; then
    (cd "$OUT" && npm install --no-audit --no-fund --silent >/dev/null)
fi

DIR=$(mktemp -d /tmp/haechi-bench.XXXXXX)
REDIS_PID=""
cleanup() {
    [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT
# Persistence off: the measure is the engines, not the disk.
redis-server --port 0 --unixsocket "$DIR/redis.sock" --unixsocketperm 700 --dir "$DIR" \
    --save '' --appendonly no --daemonize no --logfile "$DIR/redis.log" &
REDIS_PID=$!
for _ in $(seq 100); do [ -S "$DIR/redis.sock" ] && break; sleep 0.05; done
[ -S "$DIR/redis.sock" ] || { echo "bench: redis-server did not start" >&2; exit 1; }

node "$OUT/bench.mjs" "$DIR/redis.sock" "$ROOT/bin/haechi" "$OUT"

# The KakaoTalk channel at the report's size: import and send of 350,000
# members, each against its peer (tests/bench/kakao.py).
python3 "$ROOT/tests/bench/kakao.py"
