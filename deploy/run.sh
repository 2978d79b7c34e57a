#!/bin/bash
# `make run`: a private Redis under var/, `haechi serve` on loopback in the
# demo environment, the 잠시멈춤 campaign submitted, and its releases shown
# as they fire. Ctrl-C stops all of it; `make stop` (deploy/run.sh --stop)
# stops it from another terminal.
#
# The campaign lies in March-April 2020, so the daemon runs on a demo clock
# that starts just before the campaign's window and runs HAECHI_DEMO_SPEED
# times faster than real time (1440: a day a minute, the 14 days in 14
# minutes). Each run replays from the start: the demo's keys in the private
# Redis are cleared first.
#
# Everything lives under var/ (HAECHI_VAR moves it, for tests): Redis data,
# its socket, the dev config, the dev token and var/haechi.env, which exists
# only while the daemon is up and the campaign is in. HAECHI_PORT picks the
# port (default 8080; a free one when that is taken); HAECHI_BIN the binary.
# The stand-ins of the outside services (build/fakes/fake-NAME) run beside
# it on loopback ports, each with its URL, token and request log under
# var/fakes/.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
VAR=${HAECHI_VAR:-$ROOT/var}
BIN=${HAECHI_BIN:-$ROOT/bin/haechi}
SPEED=${HAECHI_DEMO_SPEED:-1440}
CAMPAIGN=campaigns/jamsi-meomchum.json
CID=jamsi-meomchum
PREFIX=demo
PIDFILE=$VAR/run.pid
ENVFILE=$VAR/haechi.env
# How the paths read in what we print: var/... when under the checkout.
SHOWN=${VAR#"$ROOT"/}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

if [ "${1:-}" = "--stop" ]; then
    pid=$(cat "$PIDFILE" 2>/dev/null)
    if alive "$pid"; then
        kill -TERM "$pid" && echo "stopping haechi (make run, pid $pid)"
    else
        # A run killed outright leaves its env file pointing at nothing.
        rm -f "$ENVFILE"
        echo "haechi is not running"
    fi
    exit 0
fi

case $SPEED in
    '' | *[!0-9]* | 0*) echo "make run: HAECHI_DEMO_SPEED must be a whole number from 1, not \"$SPEED\"" >&2
                        exit 2 ;;
esac

mkdir -p "$VAR/redis"
chmod 700 "$VAR"

pid=$(cat "$PIDFILE" 2>/dev/null)
if alive "$pid"; then
    echo "haechi is already running (make run, pid $pid); not starting a second one."
    echo "Its settings are in $SHOWN/haechi.env:  . $SHOWN/haechi.env; bin/haechi list"
    echo "Stop it with Ctrl-C in its terminal, or: make stop"
    exit 0
fi
echo $$ > "$PIDFILE"
# From an earlier run that was killed: it must not appear ready before we are.
rm -f "$ENVFILE"

REDIS_PID=""
HAECHI_PID=""
FOLLOW_PID=""
FAKE_PIDS=()
cleanup() {
    trap - INT TERM EXIT
    echo
    rm -f "$ENVFILE"
    [ -n "$FOLLOW_PID" ] && kill -TERM "$FOLLOW_PID" 2>/dev/null && wait "$FOLLOW_PID" 2>/dev/null
    [ -n "$HAECHI_PID" ] && kill -TERM "$HAECHI_PID" 2>/dev/null && wait "$HAECHI_PID" 2>/dev/null
    for p in "${FAKE_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    [ -n "$REDIS_PID" ] && kill -TERM "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
    rm -f "$PIDFILE" "$VAR/ready" "$VAR"/fakes/*.port "$VAR"/fakes/*.url
    [ ${#FAKE_PIDS[@]} -gt 0 ] && echo "make run: stopped ${#FAKE_PIDS[@]} stand-in(s)"
    echo "make run: stopped haechi and its redis-server"
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
    echo "make run: redis-server did not start; see $SHOWN/redis.log" >&2
    exit 1
fi
wait_for 10 sh -c '/usr/bin/redis-cli -s "$1" PING 2>/dev/null | grep -q PONG' sh "$SOCK"

# A replay starts from the start: what the last one released is cleared.
# This Redis is make run's own, and only the demo's keys go.
cleared=$(/usr/bin/redis-cli -s "$SOCK" EVAL "
    local n = 0
    for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('UNLINK', k); n = n + 1 end
    return n" 0 "$PREFIX:*" 2>&1)
case $cleared in
    '' | *[!0-9]*) echo "make run: could not clear the last replay from Redis: $cleared" >&2
                   exit 1 ;;
esac

# --- the sample audience list ---------------------------------------------
# 5,000 made-up members of the city's KakaoTalk channel: 010-0000-0000 to
# 010-0000-4999, numbers no carrier hands out (a real mobile's middle block
# starts with 2-9). A fresh import each run (--replace), before the demo
# clock starts: the first releases are due a few real seconds after it.
LIST_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kakao"]["list"])' "$CAMPAIGN")
LIST_CSV=$VAR/$LIST_ID.csv
printf '{"redis": {"address": "unix:%s", "prefix": "%s"}}\n' "$SOCK" "$PREFIX" > "$VAR/audience.json"
python3 "$ROOT/tests/integration/audience_gen.py" "$LIST_CSV" 5000 >/dev/null
if ! LIST_SUMMARY=$("$BIN" audience import "$LIST_ID" "$LIST_CSV" --replace --config "$VAR/audience.json" 2>&1); then
    echo "make run: the sample audience list was not imported:" >&2
    echo "$LIST_SUMMARY" >&2
    exit 1
fi

# The clock starts 10 minutes (of campaign time) before the window opens,
# and earlier by as much as 6 real seconds cover, so that the stand-ins and
# the daemon are up and the campaign armed before its first release is due
# (a firing already past when the campaign is armed never fires; on a busy
# machine the five stand-ins and a sanitizer build of the daemon took over
# the 3 seconds this margin used to be).
if ! summary=$("$BIN" validate --json "$CAMPAIGN"); then
    echo "make run: $CAMPAIGN does not validate:" >&2
    "$BIN" validate "$CAMPAIGN" >&2
    exit 1
fi
read -r DEMO_START DEMO_EPOCH DEMO_START_MS DEMO_EPOCH_MS < <(python3 -c '
import datetime, json, sys
window = datetime.datetime.fromisoformat(json.loads(sys.argv[1])["summary"]["start"])
start = window - datetime.timedelta(minutes=10, seconds=6 * int(sys.argv[2]))
epoch = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
print(start.isoformat(), epoch.strftime("%Y-%m-%dT%H:%M:%SZ"),
      int(start.timestamp() * 1000), int(epoch.timestamp() * 1000))' "$summary" "$SPEED")
if [ -z "${DEMO_EPOCH:-}" ]; then
    echo "make run: could not read the window of $CAMPAIGN" >&2
    exit 1
fi

# --- the stand-ins of the outside services (tests/fakes, built by make fakes)
# Each listens on a loopback port of its own; var/fakes/NAME.url holds its
# base URL and NAME.token a bearer token it accepts, for the config to use.
FAKES_SHOWN=()
mkdir -p "$VAR/fakes"
DEV_PAGE_ID=104000000000001
DEV_IG_USER_ID=17841400000000001
DEV_KAKAO_APPKEY=haechi-dev-appkey
DEV_KAKAO_SENDER=0000000000000000000000000000000000dev000
# X rotates its refresh token at each use; the adapter keeps the newest in
# Redis, which a replay clears: each run seeds a fresh one.
(umask 077; printf 'x-refresh-%s' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    > "$VAR/fakes/x.refresh")
for bin in "$ROOT"/build/fakes/fake-*; do
    [ -x "$bin" ] || continue
    name=${bin##*/fake-}
    tok=$VAR/fakes/$name.token
    if [ ! -s "$tok" ]; then
        (umask 077; printf '%s-%s' "$name" "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$tok")
    fi
    rm -f "$VAR/fakes/$name.port" "$VAR/fakes/$name.url"
    # The accounts the dev config names (below), and X's refresh token.
    case $name in
        facebook) extra=(--page-id "$DEV_PAGE_ID") ;;
        instagram) extra=(--ig-user-id "$DEV_IG_USER_ID") ;;
        # Each release posts its words every day at the same time: 24 hours
        # apart, where the stand-in's duplicate window ends by default (X
        # documents none), so a post a moment early on the fast demo clock
        # would be refused as a repeat. A 12-hour window, as test_sns_window.
        x) extra=(--refresh-token "$(cat "$VAR/fakes/x.refresh" 2>/dev/null || echo none)"
                  --client-id haechi-dev --duplicate-window-s 43200) ;;
        # The dealer takes the app key and the secret (the token file); one in
        # fifty sample members is not a friend of the channel.
        kakao) extra=(--appkey "$DEV_KAKAO_APPKEY" --secret "$(cat "$tok")"
                      --sender-key "$DEV_KAKAO_SENDER" --not-friend-mod 50
                      --recipients-log "$VAR/fakes/kakao.recipients.jsonl") ;;
        *) extra=() ;;
    esac
    "$bin" --listen 127.0.0.1:0 --port-file "$VAR/fakes/$name.port" --log "$VAR/fakes/$name.log" \
        --token "$(cat "$tok")" --demo-clock "$DEMO_START_MS:$DEMO_EPOCH_MS:$SPEED" "${extra[@]}" \
        2>>"$VAR/fakes/$name.err" &
    FAKE_PIDS+=($!)
    if ! wait_for 10 test -s "$VAR/fakes/$name.port"; then
        echo "make run: the $name stand-in did not start; see $SHOWN/fakes/$name.err" >&2
        exit 1
    fi
    echo "http://127.0.0.1:$(cat "$VAR/fakes/$name.port")" > "$VAR/fakes/$name.url"
    FAKES_SHOWN+=("$(printf '%-10s %s   (requests: %s/fakes/%s.log)' "$name" \
        "$(cat "$VAR/fakes/$name.url")" "$SHOWN" "$name")")
done

# --- the dev token and config ---------------------------------------------
TOKEN_FILE=$VAR/dev-token
if [ ! -s "$TOKEN_FILE" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$TOKEN_FILE")
fi
chmod 600 "$TOKEN_FILE"
TOKEN=$(cat "$TOKEN_FILE")

port=${HAECHI_PORT:-8080}
if [ "$port" != 0 ] && (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
    port=0   # taken: let the kernel pick a free port
fi

# sns goes through the sns adapter to every stand-in that runs; the other
# channels stay on the log adapter until their own adapters exist.
sns_channel() {
    local f=$VAR/fakes parts=()
    [ -s "$f/facebook.url" ] && parts+=("\"facebook\": {\"url\": \"$(cat "$f/facebook.url")\", \"page_id\": \"$DEV_PAGE_ID\", \"token_file\": \"$f/facebook.token\"}")
    [ -s "$f/instagram.url" ] && parts+=("\"instagram\": {\"url\": \"$(cat "$f/instagram.url")\", \"ig_user_id\": \"$DEV_IG_USER_ID\", \"token_file\": \"$f/instagram.token\"}")
    [ -s "$f/x.url" ] && parts+=("\"x\": {\"url\": \"$(cat "$f/x.url")\", \"token_url\": \"$(cat "$f/x.url")/2/oauth2/token\", \"client_id\": \"haechi-dev\", \"token_file\": \"$f/x.token\", \"refresh_token_file\": \"$f/x.refresh\"}")
    [ -s "$f/kakaostory.url" ] && parts+=("\"kakaostory\": {\"url\": \"$(cat "$f/kakaostory.url")\", \"token_file\": \"$f/kakaostory.token\", \"followers\": 180000}")
    [ ${#parts[@]} -gt 0 ] || return 0
    local IFS=,
    printf '"sns": {"adapter": "sns", %s}' "${parts[*]}"
}

# kakao sends to the sample audience list through the dealer stand-in.
kakao_channel() {
    local f=$VAR/fakes
    [ -s "$f/kakao.url" ] || return 0
    printf ', "kakao": {"adapter": "kakao", "url": "%s", "appkey": "%s", "secret_file": "%s", "sender_key": "%s"}' \
        "$(cat "$f/kakao.url")" "$DEV_KAKAO_APPKEY" "$f/kakao.token" "$DEV_KAKAO_SENDER"
}

cat > "$VAR/haechi.json" <<EOF
{
  "listen": "127.0.0.1:$port",
  "redis": {"address": "unix:$SOCK", "prefix": "$PREFIX"},
  "tokens": [
    {"name": "dev", "role": "admin", "token_file": "$TOKEN_FILE"}
  ],
  "environment": "demo",
  "demo": {"start": "$DEMO_START", "speed": $SPEED, "epoch": "$DEMO_EPOCH"},
  "channels": {$(sns_channel)$(kakao_channel)}
}
EOF

# --- the daemon -------------------------------------------------------------
rm -f "$VAR/ready"
"$BIN" serve --config "$VAR/haechi.json" --ready-file "$VAR/ready" 2>>"$VAR/haechi.log" &
HAECHI_PID=$!
if ! wait_for 10 test -s "$VAR/ready"; then
    echo "make run: haechi serve did not start; see $SHOWN/haechi.log:" >&2
    tail -n 20 "$VAR/haechi.log" >&2
    exit 1
fi
URL=$(cat "$VAR/ready")
export HAECHI_URL=$URL HAECHI_TOKEN=$TOKEN
wait_for 10 curl -sf -o /dev/null "$URL/healthz" || true

# --- the 잠시멈춤 campaign ---------------------------------------------------
if ! "$BIN" submit "$CAMPAIGN" >/dev/null; then
    echo "make run: the submission failed (above); see $SHOWN/haechi.log" >&2
    exit 1
fi

# Last: whoever sources it finds the daemon up and the campaign in.
cat > "$ENVFILE" <<EOF
export HAECHI_URL=$URL
export HAECHI_TOKEN=$TOKEN
EOF

cat <<EOF
haechi is running, replaying the 잠시멈춤 campaign on a demo clock.
  clock      starts at $DEMO_START, $SPEED times real time
             (HAECHI_DEMO_SPEED=60 make run: an hour a minute)
  cleared    the last replay ($cleared keys under "$PREFIX:" in make run's own Redis)
  API        $URL/api/v1/campaigns
  health     $URL/healthz
  dev token  $TOKEN   (role admin)
  logs       $SHOWN/haechi.log, $SHOWN/redis.log
  audience   $(printf '%s\n' "$LIST_SUMMARY" | tail -n 1)
             (bin/haechi audience show $LIST_ID --config $SHOWN/audience.json)
  stand-ins  ${#FAKES_SHOWN[@]} on loopback (base URL in $SHOWN/fakes/NAME.url, token in NAME.token):
$(for l in "${FAKES_SHOWN[@]}"; do echo "             $l"; done)

In another terminal:
  . $SHOWN/haechi.env
  bin/haechi status $CID             # every release's state per channel
  watch -n 2 bin/haechi status $CID  # the same, kept fresh
  curl -H "Authorization: Bearer \$HAECHI_TOKEN" \$HAECHI_URL/api/v1/campaigns/$CID/releases

sns posts through the sns adapter to the stand-ins of Facebook, Instagram, X
and KakaoStory, kakao to every active member of the list through the Kakao
dealer's stand-in, 1,000 a request (request logs in $SHOWN/fakes/; each
recipient the dealer took in kakao.recipients.jsonl); every other channel
goes to the log adapter. Nothing leaves this machine: the stand-ins answer on
loopback only.
Ctrl-C stops haechi, the stand-ins and the redis-server; make run again replays
from the start.

Releases as they go out (campaign time, Asia/Seoul):
  due                   release              channel         state
EOF

# --- what happens, as it happens ---------------------------------------------
# Reads the releases route, as any client would, and prints each change of
# a channel's state. The demo clock's reading is worked out from the same
# three values the daemon has.
python3 -u - "$CID" "$DEMO_START" "$DEMO_EPOCH" "$SPEED" <<'PY' &
import datetime, json, os, sys, time, urllib.request

cid, start, epoch, speed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
start = datetime.datetime.fromisoformat(start)
epoch = datetime.datetime.fromisoformat(epoch.replace("Z", "+00:00")).timestamp()
url = os.environ["HAECHI_URL"] + "/api/v1/campaigns/%s/releases?upcoming=1" % cid
req = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["HAECHI_TOKEN"]})
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
zone = None  # the campaign's, from the first answer; without it the offsets as they come


def shown(t):
    t = t.astimezone(zone) if zone else t
    return t.strftime("%Y-%m-%d %H:%M %a")


def now():
    return start + datetime.timedelta(seconds=(time.time() - epoch) * speed)


seen, quiet_since, errors = {}, time.monotonic(), 0
try:
    while True:
        try:
            with opener.open(req, timeout=5) as resp:
                body = json.load(resp)
            errors = 0
            if zone is None:
                try:
                    from zoneinfo import ZoneInfo
                    zone = ZoneInfo(body.get("timezone") or "UTC")
                except Exception:  # no zoneinfo or tzdata for Python
                    zone = False
        except Exception as e:  # the daemon is stopping, or busy: try again
            errors += 1
            if errors == 10:
                print("  (cannot read the releases: %s)" % e)
            time.sleep(1)
            continue
        for f in body.get("releases") or []:
            # A fanned-out channel's targets (sns/facebook, ...) are shown as such.
            recs = []
            for ch, rec in sorted((f.get("channels") or {}).items()):
                recs.append((ch, rec))
                # A list release's batches are summed up in its progress instead.
                if "progress" not in rec:
                    recs += [(ch + "/" + t, r)
                             for t, r in sorted((rec.get("targets") or {}).items())]
            for ch, rec in recs:
                key, state = (f.get("release"), f.get("due"), ch), rec.get("state")
                if state in (None, "scheduled") or seen.get(key) == state:
                    continue
                seen[key] = state
                why = rec.get("reason")
                prog = rec.get("progress")
                if prog and state != "sending":
                    why = "%d of %d members accepted%s" % (
                        prog.get("accepted", 0), prog.get("total", 0),
                        "".join(", %d %s" % (n, code)
                                for code, n in sorted((prog.get("failed_by") or {}).items())))
                print("  %s  %-20s %-15s %s%s" % (
                    shown(datetime.datetime.fromisoformat(f["due"])), f["release"], ch, state,
                    ": " + why if why else ""))
                quiet_since = time.monotonic()
        if body.get("status") in ("finished", "cancelled"):
            counts = body.get("counts") or {}
            print("The replay is over: campaign %s (%s). Ctrl-C stops; make run replays it again."
                  % (body["status"], ", ".join("%s %s" % kv for kv in sorted(counts.items()))))
            break
        if time.monotonic() - quiet_since >= 10:
            ahead = [f for f in body.get("releases") or []
                     if all(r.get("state") == "scheduled" for r in f["channels"].values())]
            nxt = min(ahead, key=lambda f: f["due"], default=None)
            print("  %s  (the clock now; next: %s)" % (
                shown(now()), "%s at %s" % (nxt["release"], shown(
                    datetime.datetime.fromisoformat(nxt["due"]))) if nxt else "nothing"))
            quiet_since = time.monotonic()
        time.sleep(1)
except KeyboardInterrupt:
    pass
PY
FOLLOW_PID=$!

wait "$HAECHI_PID"
HAECHI_PID=""
echo "make run: haechi serve exited; see $SHOWN/haechi.log" >&2
