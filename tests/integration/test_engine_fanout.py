"""Fan-out: a release's parent item becomes one item per target (the adapter's
plan), atomically with the parent's acknowledgement, and each target's end
rolls up into the parent's record. Exactly-once holds per target, also when
the worker holding the targets is SIGKILLed.

Real clock, a release a few seconds ahead (as the worker-kill test). The log
adapter plans: sns one target per network of the section (fanout_networks),
newsletter 25 batches, kakao 3 batches of which b0002 always fails
permanently (fail_target), banner no fan-out at all.
"""

import datetime
import signal

import harness as h
from harness import check

NCAMP = 4
NETWORKS = ["facebook", "instagram", "x", "kakaostory"]
PLAN = {
    "sns": NETWORKS,
    "newsletter": ["b%04d" % i for i in range(1, 26)],
    "kakao": ["b0001", "b0002", "b0003"],
    "banner": None,
}


def channel_config(extra=None):
    channels = h.real_clock_channels()
    channels["sns"]["fanout_networks"] = True
    channels["newsletter"]["fanout"] = 25
    channels["kakao"].update(fanout=3, fail_target="b0002")
    for ch, more in (extra or {}).items():
        channels[ch].update(more)
    return channels


def release_soon(front, prefix, channels, seconds=4):
    at = datetime.datetime.now(h.SEOUL).replace(microsecond=0) + \
        datetime.timedelta(seconds=seconds)
    bad = []
    for i in range(NCAMP):
        doc = h.minimal_campaign(
            "%s-%d" % (prefix, i), channels, at.date().isoformat(),
            (at.date() + datetime.timedelta(days=1)).isoformat(),
            [{"id": "go", "at": at.strftime("%Y-%m-%dT%H:%M:%S"), "channels": channels}])
        if "sns" in doc:
            doc["sns"]["networks"] = NETWORKS
        s, b = h.submit_campaign(front, doc)
        if s != 201:
            bad.append((i, s, b))
    return int(at.timestamp() * 1000), bad


def expected_items(prefix, at_ms, channels):
    out = set()
    for i in range(NCAMP):
        for ch in channels:
            base = "%s-%d|go|%d|%s" % (prefix, i, at_ms, ch)
            targets = PLAN[ch]
            if targets is None:
                out.add(base)
            else:
                out.update(base + "|" + t for t in targets if not (ch == "kakao" and t == "b0002"))
    return out


def parents_settled(redis, front, prefix, at_ms, channels):
    recs = {}
    for i in range(NCAMP):
        f = h.fires(redis, front, "%s-%d" % (prefix, i))
        for ch in channels:
            rec = f.get("go|%d|%s" % (at_ms, ch))
            if not rec or rec.get("state") in (None, "queued", "sending"):
                return None
            recs[(i, ch)] = rec
    return recs


def logged(redis, front):
    return [f for _, f in h.stream_entries(redis, h.engine_key(front, "log"))]


def run_fanout(redis, front):
    channels = ["sns", "newsletter", "kakao", "banner"]
    at_ms, bad = release_soon(front, "fo", channels)
    check("4 campaigns releasing on sns, newsletter, kakao and banner are accepted", not bad,
          bad[:2])
    if bad:
        return
    recs = h.wait_until(lambda: parents_settled(redis, front, "fo", at_ms, channels),
                        timeout=30.0, interval=0.1)
    check("every parent delivery settles (no parent left queued or sending)", bool(recs),
          "fires of fo-0: %s" % h.fires(redis, front, "fo-0"))
    if not recs:
        return
    want = expected_items("fo", at_ms, channels)
    items = [f.get("item") for f in logged(redis, front)]
    dupes = sorted({i for i in items if items.count(i) > 1})
    check("the log stream holds each target exactly once (%d items: 4 networks, 25 and 2 "
          "batches, 1 banner, per campaign)" % len(want),
          set(items) == want and len(items) == len(want),
          "%d entries; duplicates %s; missing %s; extra %s" % (
              len(items), dupes[:3], sorted(want - set(items))[:3], sorted(set(items) - want)[:3]))
    targets_logged = sorted({f.get("target") for f in logged(redis, front)
                             if f.get("channel") == "sns"})
    check("each sns entry names its network as its target", targets_logged == sorted(NETWORKS),
          targets_logged)
    sns = recs[(0, "sns")]
    check("the sns parent rolls up: sent, 4 targets, 4 ok, none remaining",
          sns.get("state") == "sent" and sns.get("target_count") == 4 and sns.get("ok") == 4 and
          sns.get("remaining") == 0, sns)
    nl = recs[(0, "newsletter")]
    check("the newsletter parent rolls up: sent, 25 targets, 25 accepted recipients",
          nl.get("state") == "sent" and nl.get("target_count") == 25 and nl.get("ok") == 25 and
          nl.get("accepted") == 25, nl)
    kk = recs[(0, "kakao")]
    check("the kakao parent is partial: 2 of 3 targets ok, 1 failed, with the reason",
          kk.get("state") == "partial" and kk.get("ok") == 2 and kk.get("failed") == 1 and
          "1 of 3 targets failed" in (kk.get("reason") or ""), kk)
    child = h.fires(redis, front, "fo-0").get("go|%d|kakao|b0002" % at_ms, {})
    check("the failed target keeps its own state and reason (dead, fail_target)",
          child.get("state") == "dead" and "target b0002" in (child.get("reason") or ""), child)
    bn = recs[(0, "banner")]
    check("the banner (no fan-out) is one plain delivery", bn.get("state") == "sent" and
          "target_count" not in bn, bn)
    dead = [f for _, f in h.stream_entries(redis, h.engine_key(front, "dead"))]
    check("the dead letters are the 4 failed kakao targets, each naming its target",
          len(dead) == NCAMP and all(d.get("target") == "b0002" and d.get("channel") == "kakao"
                                     for d in dead), dead[:2])
    totals = {}
    for i in range(NCAMP):
        for (ch, what), n in h.metric_totals(redis, front, "fo-%d" % i).items():
            totals[(ch, what)] = totals.get((ch, what), 0) + n
    check("metrics count one sent per parent (kakao's partial too) and 25 accepted per "
          "newsletter release",
          all(totals.get((ch, "sent")) == NCAMP for ch in channels) and
          totals.get(("kakao", "partial")) == NCAMP and
          totals.get(("newsletter", "accepted")) == 25 * NCAMP, totals)
    s, _, body = front.http("GET", "/api/v1/campaigns/fo-0/releases", "viewer")
    rel = (body or {}).get("releases", [{}])[0] if isinstance(body, dict) else {}
    api_sns = rel.get("channels", {}).get("sns", {})
    check("GET releases nests the targets under their channel",
          s == 200 and sorted(api_sns.get("targets", {})) == sorted(NETWORKS) and
          api_sns.get("state") == "sent", "status %s; sns %s" % (s, api_sns))
    api_nl = rel.get("channels", {}).get("newsletter", {})
    prog = api_nl.get("progress", {})
    check("GET releases shows the newsletter release's progress: 25 of 25 recipients "
          "accepted, none failed or remaining, a rate, its start",
          prog.get("total") == 25 and prog.get("accepted") == 25 and prog.get("failed") == 0 and
          prog.get("remaining") == 0 and prog.get("failed_by") == {} and
          isinstance(prog.get("rate_per_s"), (int, float)) and "started" in prog, api_nl)
    api_kk = rel.get("channels", {}).get("kakao", {})
    check("the kakao release's progress counts its 3 batch recipients, 2 accepted",
          api_kk.get("progress", {}).get("total") == 3 and
          api_kk.get("progress", {}).get("accepted") == 2, api_kk.get("progress"))
    counts = (body or {}).get("counts", {}) if isinstance(body, dict) else {}
    check("the release counts are per channel, not per target",
          counts == {"sent": 3, "partial": 1}, counts)


def run_kill(redis, front):
    """Worker A holds every target when it is SIGKILLed; B takes them over."""
    slow = channel_config({"newsletter": {"delay_ms": 4000}})
    worker_a = h.RoleDaemon("fo-a", redis.address, roles="worker", like=front,
                            extra={"channels": slow, "engine": {"worker_concurrency": 500}})
    worker_b = None
    try:
        if not check("worker A (newsletter delay_ms 4000) starts", worker_a.start(),
                     "see stderr"):
            return
        at_ms, bad = release_soon(front, "fk", ["newsletter"], seconds=3)
        check("4 newsletter campaigns are accepted", not bad, bad[:2])
        want = expected_items("fk", at_ms, ["newsletter"])
        stream = h.engine_key(front, "q:newsletter")

        def a_holds_targets():
            got = redis.command("XPENDING", stream, "workers")
            return isinstance(got, list) and got[0] == len(want) and got
        held = h.wait_until(a_holds_targets, timeout=20.0, interval=0.02)
        check("worker A planned the 4 releases and holds all 100 targets (XPENDING 100)",
              bool(held), redis.command("XPENDING", stream, "workers"))
        check("nothing was sent before the kill",
              not [f for f in logged(redis, front) if f.get("item", "").startswith("fk-")])
        status = worker_a.kill()
        check("worker A dies on SIGKILL", status == -signal.SIGKILL, "status %s" % status)
        worker_b = h.RoleDaemon("fo-b", redis.address, roles="worker", like=front,
                                extra={"channels": channel_config(),
                                       "engine": {"reclaim_idle_ms": 500}})
        if not check("worker B (reclaim_idle_ms 500) starts", worker_b.start(), "see stderr"):
            return
        recs = h.wait_until(lambda: parents_settled(redis, front, "fk", at_ms, ["newsletter"]),
                            timeout=30.0, interval=0.1)
        items = [f.get("item") for f in logged(redis, front) if f.get("item", "").startswith("fk-")]
        dupes = sorted({i for i in items if items.count(i) > 1})
        check("after the takeover every target is sent exactly once and no release is "
              "planned twice",
              bool(recs) and set(items) == want and len(items) == len(want),
              "%d entries, duplicates %s, missing %s" % (len(items), dupes[:3],
                                                        sorted(want - set(items))[:3]))
        check("each newsletter parent ends sent with 25 of 25 targets ok",
              bool(recs) and all(r.get("state") == "sent" and r.get("ok") == 25
                                 for r in recs.values()), recs)
    finally:
        if worker_b and worker_b.process:
            status = worker_b.stop()
            check("worker B exits 0 on SIGTERM", status == 0, "exit status %s" % status)
        if worker_a and worker_a.process:
            worker_a.kill()


def main():
    redis = h.Redis("fo-redis")
    front = workers = None
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        front = h.RoleDaemon("fo-front", redis.address, roles="api,scheduler",
                             extra={"channels": channel_config()})
        if not check("haechi serve --roles api,scheduler starts", front.start(), "see stderr"):
            return
        workers = [h.RoleDaemon("fo-w%d" % i, redis.address, roles="worker", like=front)
                   for i in range(2)]
        if not check("two workers start", all(w.start() for w in workers), "see stderr"):
            return
        run_fanout(redis, front)
        for w in workers:
            status = w.stop()
            check("%s exits 0 on SIGTERM" % w.name, status == 0, "exit status %s" % status)
        workers = None
        run_kill(redis, front)
    finally:
        for n in (workers or []) + [front]:
            if n and n.process:
                status = n.stop()
                check("%s exits 0 on SIGTERM" % n.name, status == 0, "exit status %s" % status)
        redis.stop()


if __name__ == "__main__":
    h.run(main)
