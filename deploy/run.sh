#!/bin/bash
# `make run`: a private Redis under var/, `haechi serve` on loopback, the
# 잠시멈춤 campaign submitted, and where to look. Ctrl-C stops all of it.
# `make stop` (deploy/run.sh --stop) stops it from another terminal.
#
# Everything lives under var/: Redis data (append-only file, kept between
# runs), its socket, the dev config, the dev token and var/haechi.env.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
VAR=$ROOT/var
BIN=$ROOT/bin/haechi
PIDFILE=$VAR/run.pid

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

if [ "${1:-}" = "--stop" ]; then
    pid=$(cat "$PIDFILE" 2>/dev/null)
    if alive "$pid"; then
        kill -TERM "$pid" && echo "stopping haechi (make run, pid $pid)"
    else
        echo "haechi is not running"
    fi
    exit 0
fi

mkdir -p "$VAR/redis"
chmod 700 "$VAR"

pid=$(cat "$PIDFILE" 2>/dev/null)
if alive "$pid"; then
    echo "haechi is already running (make run, pid $pid); not starting a second one."
    echo "Its settings are in var/haechi.env:  . var/haechi.env; bin/haechi list"
    echo "Stop it with Ctrl-C in its terminal, or: make stop"
    exit 0
fi
echo $$ > "$PIDFILE"

REDIS_PID=""
HAECHI_PID=""
cleanup() {
    trap - INT TERM EXIT
    echo
    [ -n "$HAECHI_PID" ] && kill -TERM "$HAECHI_PID" 2>/dev/null && wait "$HAECHI_PID" 2>/dev/null
    [ -n "$REDIS_PID" ] && kill -TERM "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
    rm -f "$PIDFILE" "$VAR/ready"
    echo "make run: stopped haechi and its redis-server (data kept in var/redis)"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# Polls CONDITION (a shell command) for up to SECONDS.
wait_for() {
    local seconds=$1; shift
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.1
    done
}

# --- Redis: the Debian binary, never the system service --------------------
SOCK=$VAR/redis.sock
rm -f "$SOCK"
/usr/bin/redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 \
    --dir "$VAR/redis" --appendonly yes --appendfsync everysec --save '' \
    --logfile "$VAR/redis.log" &
REDIS_PID=$!
if ! wait_for 10 test -S "$SOCK"; then
    echo "make run: redis-server did not start; see var/redis.log" >&2
    exit 1
fi

# --- the dev token and config ---------------------------------------------
TOKEN_FILE=$VAR/dev-token
if [ ! -s "$TOKEN_FILE" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$TOKEN_FILE")
fi
chmod 600 "$TOKEN_FILE"
TOKEN=$(cat "$TOKEN_FILE")

port=8080
if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    port=0   # 8080 is taken: let the kernel pick a free port
fi
cat > "$VAR/haechi.json" <<EOF
{
  "listen": "127.0.0.1:$port",
  "redis": {"address": "unix:$SOCK", "prefix": "haechi"},
  "tokens": [
    {"name": "dev", "role": "admin", "token_file": "$TOKEN_FILE"}
  ]
}
EOF

# --- the daemon -------------------------------------------------------------
rm -f "$VAR/ready"
"$BIN" serve --config "$VAR/haechi.json" --ready-file "$VAR/ready" 2>>"$VAR/haechi.log" &
HAECHI_PID=$!
if ! wait_for 10 test -s "$VAR/ready"; then
    echo "make run: haechi serve did not start; see var/haechi.log:" >&2
    tail -n 20 "$VAR/haechi.log" >&2
    exit 1
fi
URL=$(cat "$VAR/ready")
cat > "$VAR/haechi.env" <<EOF
export HAECHI_URL=$URL
export HAECHI_TOKEN=$TOKEN
EOF
export HAECHI_URL=$URL HAECHI_TOKEN=$TOKEN
wait_for 10 curl -sf -o /dev/null "$URL/healthz" || true

# --- the 잠시멈춤 campaign ---------------------------------------------------
if "$BIN" status --json jamsi-meomchum >/dev/null 2>&1; then
    echo "jamsi-meomchum is already stored (from an earlier run);"
    echo "  bin/haechi submit --replace campaigns/jamsi-meomchum.json stores a new version"
else
    "$BIN" submit campaigns/jamsi-meomchum.json || echo "make run: the submission failed (above)" >&2
fi

cat <<EOF

haechi is running.
  API        $URL/api/v1/campaigns
  health     $URL/healthz
  dashboard  (comes with the dashboard issue; not built yet)
  dev token  $TOKEN   (role admin)
  logs       var/haechi.log, var/redis.log

In another terminal:
  . var/haechi.env; bin/haechi list
  bin/haechi status jamsi-meomchum
  curl -H "Authorization: Bearer \$HAECHI_TOKEN" \$HAECHI_URL/api/v1/campaigns

The 잠시멈춤 window (March-April 2020) is past, so nothing of it goes out
now; to watch its two weeks go out on a virtual clock:
  bin/haechi rehearse campaigns/jamsi-meomchum.json

Ctrl-C stops haechi and its redis-server.
EOF

wait "$HAECHI_PID"
HAECHI_PID=""
echo "make run: haechi serve exited; see var/haechi.log" >&2
