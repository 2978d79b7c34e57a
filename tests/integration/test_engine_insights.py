"""Insights polling on the virtual clock (engine.insights_after, default 1h, 24h).

One `haechi serve` (all roles); sns on the "log-insights" adapter (the log
adapter with ADAPTER_INSIGHTS) fanned out per network, kakao on the plain
log adapter. One release at 2020-06-01 12:00 KST on both. Each of the four
network targets is sent, and two polls per target are queued at sent + 1 h
and sent + 24 h (none for kakao: its adapter reports no insights). The log
adapter's figures grow by 100 impressions, 60 reach and 5 clicks an hour,
opens unreported. At +1 h each target's record holds the first poll's
figures and the metrics count them in that hour, per release and target;
at +24 h the second poll's, with only the growth counted in its hour, so
the hours add up to the latest figures; `haechi status` shows them per
target.
"""

import datetime

import harness as h
from harness import check

DUE = h.seoul_ms(2020, 6, 1, 12, 0)
HOUR = 3600000
CID = "ins-1"
NETWORKS = ("facebook", "instagram", "x", "kakaostory")


def targets(redis, d):
    recs = h.fires(redis, d, CID)
    return {n: recs.get("go|%d|sns|%s" % (DUE, n)) or {} for n in NETWORKS}


def utc_hour(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y%m%d%H")


def figures_metrics(redis, d):
    """{(hour, figure, target): n} of the sns insights counters."""
    out = {}
    for k, v in h.hash_all(redis, h.engine_key(d, "metrics:" + CID)).items():
        parts = k.split("|")
        if len(parts) == 5 and parts[0] == "sns" and parts[3] == "go":
            out[(parts[1], parts[2], parts[4])] = int(v)
    return out


def wait_polls(redis, d, n, timeout=15.0):
    def got():
        recs = targets(redis, d)
        ok = all((r.get("insights") or {}).get("polls") == n for r in recs.values())
        return recs if ok else None
    return h.wait_until(got, timeout, interval=0.05) or targets(redis, d)


def main():
    redis = h.Redis("ins-redis")
    d = None
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        channels = {ch: {"adapter": "log"} for ch in h.ENGINE_CHANNELS}
        channels["sns"] = {"adapter": "log-insights", "fanout_networks": True}
        channels["kakao"]["quiet_hours"] = False
        d = h.RoleDaemon("ins", redis.address, extra={
            "environment": "test", "testing": {"virtual_clock": True}, "channels": channels})
        if not check("haechi serve (virtual clock, sns on log-insights) starts", d.start(),
                     "see stderr"):
            return
        h.set_clock(d, now_ms=DUE - 60000)
        doc = h.minimal_campaign(CID, ["sns", "kakao"], "2020-06-01", "2020-06-02",
                                 [{"id": "go", "at": "2020-06-01T12:00",
                                   "channels": ["sns", "kakao"]}])
        s, b = h.submit_campaign(d, doc)
        if not check("a release on sns and kakao is accepted", s == 201, (s, b)):
            return
        s, b = h.set_clock(d, now_ms=DUE)
        check("the clock reaches the due time", s == 200, (s, b))
        sent = h.wait_until(lambda: all(r.get("state") == "sent"
                                        for r in targets(redis, d).values()), 15.0)
        check("the four network targets of sns are sent", sent, targets(redis, d))
        kakao = h.wait_until(lambda: (h.fires(redis, d, CID).get("go|%d|kakao" % DUE) or {})
                             .get("state") == "sent", 15.0)
        check("kakao is sent", kakao, h.fires(redis, d, CID).get("go|%d|kakao" % DUE))

        polls = redis.command("ZRANGE", h.engine_key(d, "insights"), "0", "-1", "WITHSCORES")
        scores = sorted(int(float(polls[i + 1])) for i in range(0, len(polls or []), 2))
        check("two polls per sns target are queued, at sent + 1 h and sent + 24 h; none "
              "for kakao", scores == [DUE + HOUR] * 4 + [DUE + 24 * HOUR] * 4, polls)
        check("nothing is polled before its time",
              not any(r.get("insights") for r in targets(redis, d).values()),
              targets(redis, d))

        h.set_clock(d, now_ms=DUE + HOUR)
        recs = wait_polls(redis, d, 1)
        want = {"polls": 1, "impressions": 100, "reach": 60, "clicks": 5}
        check("at +1 h each target's record holds the first poll's figures (opens unreported)",
              all({k: (r.get("insights") or {}).get(k) for k in want} == want and
                  "opens" not in r.get("insights", {}) for r in recs.values()),
              {n: r.get("insights") for n, r in recs.items()})
        m = figures_metrics(redis, d)
        h1 = utc_hour(DUE + HOUR)
        check("the metrics count them in that hour, per release and target",
              all(m.get((h1, f, n)) == v for n in NETWORKS
                  for f, v in (("impressions", 100), ("reach", 60), ("clicks", 5))) and
              len(m) == 12, m)

        h.set_clock(d, now_ms=DUE + 24 * HOUR)
        recs = wait_polls(redis, d, 2)
        check("at +24 h the second poll's figures (2400 impressions)",
              all((r.get("insights") or {}).get("impressions") == 2400 and
                  (r.get("insights") or {}).get("clicks") == 120 for r in recs.values()),
              {n: r.get("insights") for n, r in recs.items()})
        m = figures_metrics(redis, d)
        h24 = utc_hour(DUE + 24 * HOUR)
        check("only the growth is counted in the later hour; the hours add up to 2400",
              all(m.get((h24, "impressions", n)) == 2300 and
                  m.get((h1, "impressions", n)) + m.get((h24, "impressions", n)) == 2400
                  for n in NETWORKS), m)
        left = redis.command("ZCARD", h.engine_key(d, "insights"))
        check("no polls are left", left == 0, left)

        p = h.cli(["status", "--url", d.url, "--token", d.tokens["viewer"], CID])
        check("haechi status shows each target's latest figures",
              p.returncode == 0 and all(
                  "sns/%s [impressions 2400, reach 1440, clicks 120]" % n in p.stdout
                  for n in NETWORKS), p.stdout[-800:] + p.stderr[-300:])
    finally:
        h.stop_all([d], redis)


if __name__ == "__main__":
    h.run(main)
