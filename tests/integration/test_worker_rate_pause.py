"""Rate limits and channel-wide pauses live in Redis, shared by every worker
(real clock).

(rate)  Two workers, sns with rate_per_s 5 and burst 2; twenty campaigns
        release on sns at once. The log stream's entry times show the
        bucket: never more than burst + rate * t (+1 for the moment between
        a token and its log entry) sent by time t after the first, and the
        twenty take at least (20 - 2) / 5 = 3.6 s (checked with 0.3 s of
        slack).
(pause) One worker, kakao with max_inflight 1 and a log adapter whose
        injected faults answer AGAIN for the whole channel (throttle_channel:
        a 429) with retry_after_ms 2000. The fault is switched on, five
        campaigns release on kakao, and it is switched off as soon as the
        pause shows in Redis (PREFIX:{e}:pause:kakao, with its reason). Then
        exactly one failed attempt is recorded for the whole channel (one
        429 does not become five retries), nothing is sent on kakao during
        the 2 s pause, and all five are sent after it.
"""

import datetime
import json

import harness as h
from harness import check

CHANNELS = h.ENGINE_CHANNELS
RATE, BURST, N = 5, 2, 20


def submit_release(front, cid, channels, at):
    doc = h.minimal_campaign(cid, list(channels), at.date().isoformat(),
                             (at.date() + datetime.timedelta(days=1)).isoformat(),
                             [{"id": "go", "at": at.strftime("%Y-%m-%dT%H:%M:%S"),
                               "channels": list(channels)}])
    s, b = h.submit_campaign(front, doc)
    return s == 201, (s, b)


def states(redis, d, cids):
    out = {}
    for cid in cids:
        for v in h.fires(redis, d, cid).values():
            out[v.get("state")] = out.get(v.get("state"), 0) + 1
    return out


def log_times(redis, d, channel):
    return sorted(int(eid.split("-")[0]) for eid, f in
                  h.stream_entries(redis, h.engine_key(d, "log")) if f.get("channel") == channel)


def run_rate(redis, front, channels, started):
    conf = {ch: dict(channels[ch]) for ch in CHANNELS}
    conf["sns"].update(rate_per_s=RATE, burst=BURST)
    for name in ("rate-a", "rate-b"):
        w = h.RoleDaemon(name, redis.address, roles="worker", like=front,
                         extra={"channels": conf})
        started.append(w)
        if not check("(rate) worker %s (sns rate_per_s %d, burst %d) starts" % (name, RATE, BURST),
                     w.start(), "see stderr"):
            return
    at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + datetime.timedelta(seconds=3)
    cids = ["rate-%d" % i for i in range(N)]
    for cid in cids:
        ok, why = submit_release(front, cid, ["sns"], at)
        if not ok:
            check("(rate) %s accepted" % cid, False, why)
            return
    done = h.wait_until(lambda: states(redis, front, cids) == {"sent": N}, timeout=20.0,
                        interval=0.05)
    check("(rate) all %d sent" % N, done, states(redis, front, cids))
    t = log_times(redis, front, "sns")
    took = (t[-1] - t[0]) if t else 0
    check("(rate) the %d sends took %d ms, at least (N - burst) / rate = %d ms less 300"
          % (N, took, (N - BURST) * 1000 // RATE), took >= (N - BURST) * 1000 // RATE - 300,
          t)
    over = [(k + 1, x - t[0]) for k, x in enumerate(t)
            if k + 1 > BURST + RATE * (x - t[0]) / 1000.0 + 1]
    check("(rate) never more than burst + rate * t (+1) sent by any time t", not over, over[:5])
    for w in list(started):
        status = w.stop()
        check("(rate) %s exits 0" % w.name, status == 0, "exit status %s" % status)


def run_pause(redis, front, channels, started):
    conf = {ch: dict(channels[ch]) for ch in CHANNELS}
    conf["kakao"].update(max_inflight=1, faults_from_redis=True, throttle_channel=True,
                         retry_after_ms=2000)
    w = h.RoleDaemon("pause-w", redis.address, roles="worker", like=front,
                     extra={"channels": conf, "engine": {"backoff_ms": 100}})
    started.append(w)
    if not check("(pause) worker (kakao: max_inflight 1, throttle_channel, retry_after_ms "
                 "2000) starts", w.start(), "see stderr"):
        return
    faults = h.engine_key(front, "log:faults")
    redis.command("HSET", faults, "kakao", "retry")
    at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + datetime.timedelta(seconds=3)
    cids = ["pause-%d" % i for i in range(5)]
    for cid in cids:
        ok, why = submit_release(front, cid, ["kakao"], at)
        if not ok:
            check("(pause) %s accepted" % cid, False, why)
            return
    pkey = h.engine_key(front, "pause:kakao")
    pause = h.wait_until(lambda: redis.command("GET", pkey), timeout=15.0, interval=0.01)
    redis.command("HDEL", faults, "kakao")
    try:
        pause = json.loads(pause) if isinstance(pause, str) else None
    except ValueError:
        pause = None
    check("(pause) the pause shows in Redis with its until and reason: %r" % pause,
          pause and isinstance(pause.get("until"), int) and bool(pause.get("reason")),
          pause)
    done = h.wait_until(lambda: states(redis, front, cids) == {"sent": 5}, timeout=20.0,
                        interval=0.05)
    check("(pause) all 5 sent after the pause", done, states(redis, front, cids))
    retries = []
    for cid in cids:
        for v in h.fires(redis, front, cid).values():
            retries += v.get("retries") or []
    check("(pause) exactly one failed attempt recorded for the whole channel",
          len(retries) == 1, retries)
    totals = {}
    for cid in cids:
        for (ch, what), n in h.metric_totals(redis, front, cid).items():
            totals[what] = totals.get(what, 0) + n
    check("(pause) metrics: 1 retry, 5 sent", totals.get("retry") == 1 and
          totals.get("sent") == 5, totals)
    failed_at = retries[0].get("at", 0) if retries else 0
    t = log_times(redis, front, "kakao")
    early = [x - failed_at for x in t if x < failed_at + 2000 - 20]
    check("(pause) nothing sent on kakao within the 2 s pause (first send %s ms after the 429)"
          % ((t[0] - failed_at) if t else None), t and not early, early)
    status = w.stop()
    check("(pause) worker exits 0", status == 0, "exit status %s" % status)


def main():
    redis = h.Redis("rp-redis")
    front = None
    started = []
    try:
        channels = h.real_clock_channels()
        front, up = h.start_front(redis, "rp-front", channels)
        if not up:
            return
        run_rate(redis, front, channels, started)
        run_pause(redis, front, channels, started)
    finally:
        h.stop_all(started + [front], redis)


if __name__ == "__main__":
    h.run(main)
