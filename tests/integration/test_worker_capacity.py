"""Per-channel in-flight caps, the process-wide cap, and the alert's reserved
capacity (real clock; log adapters made slow with delay_ms).

(caps)  One worker with engine.worker_concurrency 6 and kakao
        max_inflight 2; every send takes 1 s. Five campaigns release on the
        four bulk channels at once: 20 items. XPENDING of the worker's
        consumer on each stream is sampled every 20 ms until all are sent:
        never more than 6 in all, never more than 5 on bulk channels (one
        slot is the alert's), never more than 2 on kakao; the bulk slots
        are actually filled (5 seen at once).
(alert) Another worker with worker_concurrency 8 (2 slots reserved for the
        alert); every bulk send takes 3 s, the alert's none. Three
        campaigns flood the bulk channels (12 items, 6 in flight at a time:
        two rounds of 3 s); one second into the flood an alert comes due.
        It must be sent within 1.5 s of its due time, while the flood is
        still going.
"""

import datetime

import harness as h
from harness import check

CHANNELS = h.ENGINE_CHANNELS
BULK = ("sns", "kakao", "banner", "newsletter")


def submit_release(front, cid, channels, at):
    doc = h.minimal_campaign(cid, list(channels), at.date().isoformat(),
                             (at.date() + datetime.timedelta(days=1)).isoformat(),
                             [{"id": "go", "at": at.strftime("%Y-%m-%dT%H:%M:%S"),
                               "channels": list(channels)}])
    s, b = h.submit_campaign(front, doc)
    return s == 201, (s, b)


# Every stream's XPENDING count in one script, so one atomic snapshot. One
# XPENDING per stream is no snapshot: a send that ends on a stream already
# counted frees a slot the worker may fill on a stream counted later, and
# the sum shows one more than was ever in flight (seen as "bulk 6" once the
# worker refilled slots quickly).
PENDING_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local ok, got = pcall(redis.call, 'XPENDING', key, ARGV[1])
  out[i] = ok and got[1] or 0
end
return out
"""


def pending_by_channel(redis, d):
    """{channel: entries pending to any consumer} (one worker: all are its),
    all read at one moment."""
    keys = [h.engine_key(d, "q:" + ch) for ch in CHANNELS]
    got = redis.command("EVAL", PENDING_SCRIPT, str(len(keys)), *keys, "workers")
    if not isinstance(got, list) or len(got) != len(keys):
        return {ch: 0 for ch in CHANNELS}
    return {ch: n if isinstance(n, int) else 0 for ch, n in zip(CHANNELS, got)}


def states(redis, d, cids):
    out = {}
    for cid in cids:
        for v in h.fires(redis, d, cid).values():
            out[v.get("state")] = out.get(v.get("state"), 0) + 1
    return out


def slow_worker(redis, front, name, channels, delays, engine, extra_channel=None):
    conf = {}
    for ch in CHANNELS:
        conf[ch] = dict(channels[ch])
        if delays.get(ch):
            conf[ch]["delay_ms"] = delays[ch]
        conf[ch].update((extra_channel or {}).get(ch, {}))
    return h.RoleDaemon(name, redis.address, roles="worker", like=front,
                        extra={"channels": conf, "engine": engine})


def run_caps(redis, front, channels, started):
    w = slow_worker(redis, front, "cap-w", channels, {ch: 1000 for ch in BULK},
                    {"worker_concurrency": 6}, {"kakao": {"max_inflight": 2}})
    started.append(w)
    if not check("(caps) worker (worker_concurrency 6, kakao max_inflight 2, 1 s sends) "
                 "starts", w.start(), "see stderr"):
        return
    at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + datetime.timedelta(seconds=3)
    cids = ["cap-%d" % i for i in range(5)]
    for cid in cids:
        ok, why = submit_release(front, cid, BULK, at)
        if not check("(caps) %s accepted" % cid, ok, why):
            return
    peak = {"total": 0, "bulk": 0, "kakao": 0}
    over = []

    def sample():
        p = pending_by_channel(redis, front)
        total, bulk = sum(p.values()), sum(p[ch] for ch in BULK)
        for k, v in (("total", total), ("bulk", bulk), ("kakao", p["kakao"])):
            peak[k] = max(peak[k], v)
        if total > 6 or bulk > 5 or p["kakao"] > 2:
            over.append(p)
        return states(redis, front, cids) == {"sent": 20}
    done = h.wait_until(sample, timeout=30.0, interval=0.02)
    check("(caps) all 20 items sent", done, states(redis, front, cids))
    check("(caps) never more than 6 pending in all, 5 on bulk channels, 2 on kakao "
          "(peaks: %s)" % peak, not over, over[:3])
    check("(caps) the bulk slots were filled: 5 in flight at once", peak["bulk"] == 5, peak)
    status = w.stop()
    check("(caps) worker exits 0", status == 0, "exit status %s" % status)


def run_alert(redis, front, channels, started):
    w = slow_worker(redis, front, "alert-w", channels, {ch: 3000 for ch in BULK},
                    {"worker_concurrency": 8})
    started.append(w)
    if not check("(alert) worker (worker_concurrency 8, bulk sends 3 s, alert 0) starts",
                 w.start(), "see stderr"):
        return
    at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + datetime.timedelta(seconds=3)
    alert_at = at + datetime.timedelta(seconds=1)
    flood = ["flood-%d" % i for i in range(3)]
    for cid in flood:
        ok, why = submit_release(front, cid, BULK, at)
        if not check("(alert) %s accepted" % cid, ok, why):
            return
    ok, why = submit_release(front, "urgent", ["alert"], alert_at)
    if not check("(alert) the alert campaign accepted", ok, why):
        return
    alert_ms = int(alert_at.timestamp() * 1000)

    def alert_sent():
        r = h.fires(redis, front, "urgent").get("go|%d|alert" % alert_ms)
        return r if r and r.get("state") == "sent" else None
    rec = h.wait_until(alert_sent, timeout=15.0, interval=0.02)
    flood_states = states(redis, front, flood)
    late = rec.get("at", 0) - alert_ms if rec else None
    check("(alert) sent %s ms after its due time (bound 1500 ms; bulk sends take 3000)"
          % late, rec and late < 1500, "record %r" % rec)
    check("(alert) the flood was still going then (not all 12 sent)",
          flood_states.get("sent", 0) < 12, flood_states)
    done = h.wait_until(lambda: states(redis, front, flood) == {"sent": 12}, timeout=30.0)
    check("(alert) the flood is sent in the end", done, states(redis, front, flood))
    status = w.stop()
    check("(alert) worker exits 0", status == 0, "exit status %s" % status)


def main():
    redis = h.Redis("cap-redis")
    front = None
    started = []
    try:
        channels = h.real_clock_channels()
        front, up = h.start_front(redis, "cap-front", channels)
        if not up:
            return
        run_caps(redis, front, channels, started)
        run_alert(redis, front, channels, started)
        items = [f.get("item") for _, f in h.stream_entries(redis, h.engine_key(front, "log"))]
        dupes = sorted({i for i in items if items.count(i) > 1})
        check("the log holds 33 deliveries, none twice", len(items) == 33 and not dupes,
              "%d entries, duplicates %s" % (len(items), dupes[:3]))
    finally:
        h.stop_all(started + [front], redis)


if __name__ == "__main__":
    h.run(main)
