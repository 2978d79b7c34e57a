"""What a campaign leaves behind in the engine, on a virtual clock.

Processes: `haechi serve --roles api,worker` (owns the clock, with
testing.retention_s 600) and `haechi serve --roles scheduler`, on one Redis.
Day D is 2020-05-04 (KST).

- retention: a campaign whose last firing was claimed is finished, and its
  fires:/metrics: keys get a TTL of at most retention_s; a cancelled one too;
  a new version of the finished one (armed again) keeps its keys (no TTL).
- one aggregate counter hash: PREFIX:{e}:totals holds "CH|outcome", and after
  the run it equals the sum of every campaign's metrics:ID over the hours.
- reasons: a campaign armed in the engine alone (as `make bench` does) that
  finishes is logged as "could not mark a campaign finished in the store: no
  campaign "X" in the store", and no log line of either process ends in "?".
"""

import harness as h
from harness import check

RETENTION_S = 600


def D(hour, minute=0, day=4):
    return h.seoul_ms(2020, 5, day, hour, minute)


def ttl(redis, d, name):
    return redis.command("TTL", h.engine_key(d, name))


def step(redis, api, t, stuck):
    s, b = h.set_clock(api, now_ms=t)
    if s != 200 or not h.wait_engine_idle(redis, api, t, timeout=h.DEADLINE * 2):
        stuck.append("%s: %s %r" % (h.seoul_text(t), s, b))


def campaigns():
    return [
        h.minimal_campaign("ret-done", ["sns", "alert"], "2020-05-04T00:00", "2020-05-04T06:59",
                           [{"id": "one", "at": "2020-05-04T01:00", "channels": ["sns"]},
                            {"id": "two", "at": "2020-05-04T02:00",
                             "channels": ["sns", "alert"]}]),
        h.minimal_campaign("ret-cancel", ["sns"], "2020-05-04T00:00", "2020-05-04T12:59",
                           [{"id": "hourly", "cron": "30 * * * *", "channels": ["sns"]}]),
        h.minimal_campaign("ret-other", ["sns", "alert"], "2020-05-04T00:00",
                           "2020-05-05T23:59",
                           [{"id": "hourly", "cron": "0 * * * *",
                             "channels": ["sns", "alert"]}]),
    ]


def arm_engine_only(redis, d, cid, due):
    """haechi_arm as the bench calls it: a campaign the store never saw."""
    p = h.engine_key(d, "")
    return redis.command("FCALL", "haechi_arm", "3", p + "camp:" + cid, p + "due", p + "armed",
                         cid, "1", "scheduled", "UTC", p, "0", "1", "only", "sns:3600000", "1",
                         str(due))


def main():
    redis = h.Redis("ret-redis")
    api = sched = None
    stuck = []
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        api = h.RoleDaemon("ret-api", redis.address, roles="api,worker",
                           extra={"environment": "test",
                                  "testing": {"virtual_clock": True,
                                              "retention_s": RETENTION_S}})
        if not check("haechi serve --roles api,worker (retention_s %d) starts" % RETENTION_S,
                     api.start(), "see stderr"):
            return
        sched = h.RoleDaemon("ret-sched", redis.address, roles="scheduler", like=api)
        if not check("haechi serve --roles scheduler starts", sched.start(), "see stderr"):
            return
        step(redis, api, D(0, 30), stuck)
        bad = []
        for doc in campaigns():
            s, b = h.submit_campaign(api, doc)
            if s != 201:
                bad.append((doc["id"], s, b))
        check("three campaigns submitted", not bad, bad)
        for t in (D(1), D(1, 30), D(2)):
            step(redis, api, t, stuck)
        check("every clock step ran to idle", not stuck, stuck)

        done = h.wait_until(lambda: api.http("GET", "/api/v1/campaigns/ret-done", "viewer")[2]
                            .get("status") == "finished")
        check("ret-done is finished once its last firing went out", done, "not finished")
        for name in ("fires:ret-done", "metrics:ret-done"):
            t = ttl(redis, api, name)
            check("finished: %s has a TTL of at most retention_s" % name,
                  isinstance(t, int) and 0 < t <= RETENTION_S, "TTL %r" % t)
        t = ttl(redis, api, "fires:ret-other")
        check("a campaign still running keeps its keys (no TTL)", t == -1, "TTL %r" % t)

        s, _, b = api.http("POST", "/api/v1/campaigns/ret-cancel/cancel", "editor")
        check("ret-cancel cancelled -> 200", s == 200, "%s %r" % (s, b))
        for name in ("fires:ret-cancel", "metrics:ret-cancel"):
            t = ttl(redis, api, name)
            check("cancelled: %s has a TTL of at most retention_s" % name,
                  isinstance(t, int) and 0 < t <= RETENTION_S, "TTL %r" % t)

        doc = campaigns()[0]
        doc["schedule"]["end"] = "2020-05-05T06:59"
        doc["schedule"]["releases"].append({"id": "three", "at": "2020-05-05T01:00",
                                            "channels": ["sns"]})
        s, _, b = api.http("PUT", "/api/v1/campaigns/ret-done", "editor",
                           body=h.campaign_json(doc), content_type="application/json")
        check("a new version of the finished ret-done -> 200 scheduled",
              s == 200 and isinstance(b, dict) and b.get("status") == "scheduled",
              "%s %r" % (s, b))
        for name in ("fires:ret-done", "metrics:ret-done"):
            t = ttl(redis, api, name)
            check("armed again: %s is kept (no TTL)" % name, t == -1, "TTL %r" % t)

        cids = ("ret-done", "ret-cancel", "ret-other")
        want = {}
        for cid in cids:
            for (ch, what), n in h.metric_totals(redis, api, cid).items():
                want["%s|%s" % (ch, what)] = want.get("%s|%s" % (ch, what), 0) + n
        got = {k: int(v) for k, v in h.hash_all(redis, h.engine_key(api, "totals")).items()}
        check("totals equal the sum of every campaign's metrics",
              got == want and got.get("sns|sent", 0) >= 4, "totals %r, sum %r" % (got, want))

        arm_engine_only(redis, api, "bench-only", D(2, 10))
        step(redis, api, D(2, 15), stuck)
        said = 'could not mark a campaign finished in the store: no campaign "bench-only"'
        seen = h.wait_until(lambda: said in sched.log_text())
        check("an engine-only campaign that finishes is logged with its reason", seen,
              h.tail(sched.log_path, 5))
    finally:
        for d in (sched, api):
            if d and d.process:
                status = d.stop()
                check("%s exits 0 on SIGTERM" % d.name, status == 0, "exit status %s" % status)
                bare = [line for line in d.log_text().splitlines() if line.rstrip().endswith("?")]
                check("no log line of %s ends in a bare \"?\"" % d.name, not bare, bare[:3])
        redis.stop()


if __name__ == "__main__":
    h.run(main)
