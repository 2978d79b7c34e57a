"""Bounds on the Redis side: a cap on waiting commands, paged listings, and a
reconcile pass that reaches every campaign.

1. Busy: with redis.max_pending 10 and Redis stalled (SIGSTOP), 40 reads at
   once: no more than 10 wait on Redis; every other one is answered at once
   with 503 "redis-busy" and Retry-After. Once Redis resumes, the daemon
   works again and exits 0.
2. 1,200 campaigns written into the store's keys directly, ahead of two
   submitted through the API (so those two lie beyond the first 1,000):
   - GET /api/v1/campaigns pages with ?limit= and ?cursor=, with "total" and
     "next_cursor", and every campaign comes exactly once; `haechi list`
     follows the pages and prints all of them, or --limit N.
   - one of the two loses its engine view (stored as scheduled, not armed),
     the other is paused in the store only: a scheduler started afterwards
     arms the first and pauses the second in the engine, within a deadline.
3. Releases paged: 2,500 delivery records of one campaign come back over
   several pages of GET .../releases (?limit=, ?cursor=), each once, and
   `haechi status` follows the pages (its counts say 2,500).
"""

import socket
import threading
import time

import harness as h
from harness import check

FILLERS = 1200


def pipeline(redis, commands, timeout=30.0):
    """Sends COMMANDS on one connection at once; returns their replies."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(redis.socket)
        s.sendall(b"".join(h.resp_encode(c) for c in commands))
        reader = h._RespReader(s)
        return [reader.read() for _ in commands]
    finally:
        s.close()


def busy():
    redis = h.Redis("busy-redis")
    d = None
    try:
        if not check("private redis-server answers PING (busy)", redis.start(), "see stderr"):
            return
        d = h.RoleDaemon("busy", redis.address, roles="api")
        d.config["redis"]["command_timeout_ms"] = 6000
        d.config["redis"]["max_pending"] = 10
        if not check("haechi serve --roles api with redis.max_pending 10 starts", d.start(),
                     "see stderr"):
            return
        s, b = h.submit_campaign(d, h.future_campaign("busy-one"))
        check("a submission before Redis stalls -> 201", s == 201, "%s %r" % (s, b))
        results = []
        lock = threading.Lock()

        def one():
            began = time.monotonic()
            s, hdrs, b = d.http("GET", "/api/v1/campaigns/busy-one", "viewer", timeout=20.0)
            with lock:
                results.append((s, hdrs.get("Retry-After") if hdrs else None,
                                b.get("error") if isinstance(b, dict) else b,
                                time.monotonic() - began))

        redis.freeze()
        try:
            threads = [threading.Thread(target=one) for _ in range(40)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30.0)
        finally:
            redis.thaw()
        busy_ones = [r for r in results if r[0] == 503 and r[2] == "redis-busy"]
        waited = [r for r in results if r not in busy_ones]
        check("40 reads while Redis stalls: all answered", len(results) == 40,
              "%d answers" % len(results))
        check("no more than max_pending (10) reads waited on Redis; the rest were refused",
              1 <= len(waited) <= 10 and len(busy_ones) >= 30,
              "%d waited, %d busy: %r" % (len(waited), len(busy_ones), waited[:12]))
        check("every refusal came at once (well before the 6 s command timeout)",
              busy_ones and max(r[3] for r in busy_ones) < 3.0,
              "slowest %.2f s" % max([r[3] for r in busy_ones] or [0]))
        check("every redis-busy answer carries Retry-After: 1",
              busy_ones and all(r[1] == "1" for r in busy_ones),
              [r[1] for r in busy_ones][:5])
        check("the reads that waited got 200 or a 503 timeout, never busy",
              all(r[0] in (200, 503) and r[2] != "redis-busy" for r in waited), waited[:5])
        got = h.wait_until(lambda: h.healthz(d.url) == 200, 15.0, interval=0.1)
        check("/healthz is 200 again once Redis resumes", got, "still not 200")
        s, _, b = d.http("GET", "/api/v1/campaigns/busy-one", "viewer")
        check("a read after the stall -> 200", s == 200, "%s %r" % (s, b))
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 after the busy stall (no leak)", status == 0,
                  "exit status %s" % status)
        redis.thaw()
        redis.stop()


def write_fillers(redis, prefix):
    """FILLERS finished campaigns in the store's layout, scored 1..FILLERS (ms),
    so that they come before anything submitted now."""
    cmds = []
    for i in range(FILLERS):
        cid = "fill-%04d" % i
        cmds.append(["ZADD", "%s:campaigns" % prefix, str(i + 1), cid])
        cmds.append(["HSET", "%s:{c:%s}:meta" % (prefix, cid), "id", cid, "version", "1",
                     "status", "finished", "title", "filler %d" % i, "owner", "test",
                     "created_at", str(i + 1), "created_by", "test", "updated_at", str(i + 1),
                     "updated_by", "test"])
    bad = [r for r in pipeline(redis, cmds) if isinstance(r, h.RedisError)]
    return not bad


def list_pages(d, limit):
    """Follows next_cursor; returns (ids, pages, totals, last error)."""
    ids, pages, totals, cursor = [], 0, set(), None
    while pages < 100:
        path = "/api/v1/campaigns?limit=%d" % limit + ("&cursor=" + cursor if cursor else "")
        s, _, b = d.http("GET", path, "viewer", timeout=30.0)
        if s != 200 or not isinstance(b, dict):
            return ids, pages, totals, "%s %r" % (s, b)
        pages += 1
        ids += [c.get("id") for c in b.get("campaigns", [])]
        totals.add(b.get("total"))
        cursor = b.get("next_cursor")
        if cursor is None:
            return ids, pages, totals, None
    return ids, pages, totals, "more than 100 pages"


def engine_field(redis, d, cid, field):
    got = redis.command("HGET", h.engine_key(d, "camp:" + cid), field)
    return None if isinstance(got, h.RedisError) else got


def paging_and_reconcile():
    redis = h.Redis("pages-redis")
    api = sched = None
    try:
        if not check("private redis-server answers PING (paging)", redis.start(), "see stderr"):
            return
        api = h.RoleDaemon("pages", redis.address, roles="api")
        if not check("haechi serve --roles api starts (paging)", api.start(), "see stderr"):
            return
        # Listening comes before the Redis link is up: submit once it is.
        check("/healthz is 200 before the first submission (paging)",
              h.wait_until(lambda: h.healthz(api.url) == 200, 15.0, interval=0.05), "not 200")
        for cid in ("zz-unarmed", "zz-paused"):
            s, b = h.submit_campaign(api, h.future_campaign(cid))
            check("%s submitted -> 201" % cid, s == 201, "%s %r" % (s, b))
        check("%d campaigns written into the store's keys" % FILLERS,
              write_fillers(redis, api.prefix), "a write failed")

        ids, pages, totals, err = list_pages(api, 500)
        check("list ?limit=500 pages to the end", err is None, err)
        check("the pages hold every campaign once (%d), in %d pages" % (FILLERS + 2, pages),
              len(ids) == FILLERS + 2 and len(set(ids)) == len(ids) and pages == 3,
              "%d ids, %d distinct, %d pages" % (len(ids), len(set(ids)), pages))
        check("every page says total %d" % (FILLERS + 2), totals == {FILLERS + 2}, totals)
        check("the two submitted last come last", ids[-2:] == ["zz-unarmed", "zz-paused"],
              ids[-3:])
        s, _, b = api.http("GET", "/api/v1/campaigns", "viewer", timeout=30.0)
        check("list without a limit: the first 1000 and a next_cursor",
              s == 200 and len(b.get("campaigns", [])) == 1000 and
              b.get("next_cursor") == "fill-0999" and b.get("total") == FILLERS + 2,
              "%s %s %r" % (s, len(b.get("campaigns", [])) if isinstance(b, dict) else b,
                            b.get("next_cursor") if isinstance(b, dict) else None))
        for q in ("limit=0", "limit=1001", "limit=x", "cursor=no-such-campaign"):
            s, _, b = api.http("GET", "/api/v1/campaigns?" + q, "viewer")
            check("list ?%s -> 400 with a JSON error" % q, s == 400 and h.is_error_body(b),
                  "%s %r" % (s, b))

        env = {"HAECHI_URL": api.url, "HAECHI_TOKEN": api.tokens["viewer"]}
        p = h.cli(["list"], env=env, timeout=60)
        rows = h.nonempty_lines(p.stdout)[1:]
        check("`haechi list` prints all %d campaigns (following the pages)" % (FILLERS + 2),
              p.returncode == 0 and len(rows) == FILLERS + 2 and
              rows[-1].startswith("zz-paused"), "rc %s, %d rows; %s"
              % (p.returncode, len(rows), p.stderr.strip()))
        p = h.cli(["list", "--limit", "5"], env=env)
        rows = h.nonempty_lines(p.stdout)[1:]
        check("`haechi list --limit 5` prints 5",
              p.returncode == 0 and [r.split()[0] for r in rows] ==
              ["fill-%04d" % i for i in range(5)], "rc %s: %r %s"
              % (p.returncode, rows, p.stderr.strip()))
        p = h.cli(["list", "--limit", "0"], env=env)
        check("`haechi list --limit 0` is a usage error", p.returncode == 2 and
              "--limit" in p.stderr, "rc %s: %s" % (p.returncode, p.stderr.strip()))

        # The engine loses one campaign and never hears of the other's pause.
        redis.command("DEL", h.engine_key(api, "camp:zz-unarmed"))
        redis.command("HDEL", h.engine_key(api, "armed"), "zz-unarmed")
        redis.command("HSET", "%s:{c:zz-paused}:meta" % api.prefix, "status", "paused")
        check("before reconcile: zz-unarmed has no engine view and zz-paused runs there",
              engine_field(redis, api, "zz-unarmed", "version") is None and
              engine_field(redis, api, "zz-paused", "status") == "scheduled",
              "%r %r" % (engine_field(redis, api, "zz-unarmed", "version"),
                         engine_field(redis, api, "zz-paused", "status")))
        releases_paged(redis, api)

        sched = h.RoleDaemon("pages-sched", redis.address, roles="scheduler", like=api)
        if not check("haechi serve --roles scheduler starts", sched.start(), "see stderr"):
            return
        armed = h.wait_until(lambda: engine_field(redis, api, "zz-unarmed", "version") == "1",
                             30.0, interval=0.1)
        check("reconcile arms a campaign beyond the first 1000 (zz-unarmed)", armed,
              "engine version %r" % engine_field(redis, api, "zz-unarmed", "version"))
        paused = h.wait_until(
            lambda: engine_field(redis, api, "zz-paused", "status") == "paused", 30.0,
            interval=0.1)
        check("reconcile applies a pause the engine missed, beyond the first 1000", paused,
              "engine status %r" % engine_field(redis, api, "zz-paused", "status"))
    finally:
        for d in (sched, api):
            if d and d.process:
                status = d.stop()
                check("%s exits 0 on SIGTERM" % d.name, status == 0, "exit status %s" % status)
        redis.stop()


BULK = 2500


def releases_paged(redis, api):
    """BULK delivery records of zz-paused, read back in pages."""
    base = h.seoul_ms(2020, 5, 4)
    flat = []
    for i in range(BULK):
        due = base + i * 60000
        flat += ["bulk|%d|sns" % due,
                 '{"due":%d,"state":"sent","at":%d,"fired":%d,"attempts":1}' % (due, due, due)]
    got = redis.command("HSET", h.engine_key(api, "fires:zz-paused"), *flat, timeout=10.0)
    check("%d delivery records written" % BULK, got == BULK, got)

    seen, pages, sent, cursor, err = [], 0, 0, None, None
    while pages < 200:
        path = "/api/v1/campaigns/zz-paused/releases?limit=500" + (
            "&cursor=" + cursor if cursor else "")
        s, _, b = api.http("GET", path, "viewer", timeout=30.0)
        if s != 200 or not isinstance(b, dict):
            err = "%s %r" % (s, b)
            break
        pages += 1
        seen += [(f.get("release"), f.get("due_ms")) for f in b.get("releases", [])
                 if f.get("release") == "bulk"]
        sent += b.get("counts", {}).get("sent", 0)
        cursor = b.get("next_cursor")
        if cursor is None:
            break
    check("releases ?limit=500 pages to the end", err is None and cursor is None,
          err or "stopped at %d pages" % pages)
    check("the pages hold each of the %d deliveries once, over several pages" % BULK,
          len(seen) == BULK and len(set(seen)) == BULK and sent == BULK and pages > 1,
          "%d seen, %d distinct, sent %d, %d pages" % (len(seen), len(set(seen)), sent, pages))
    for q in ("limit=0", "cursor=abc", "cursor="):
        s, _, b = api.http("GET", "/api/v1/campaigns/zz-paused/releases?" + q, "viewer")
        check("releases ?%s -> 400 with a JSON error" % q, s == 400 and h.is_error_body(b),
              "%s %r" % (s, b))
    env = {"HAECHI_URL": api.url, "HAECHI_TOKEN": api.tokens["viewer"]}
    p = h.cli(["status", "zz-paused"], env=env, timeout=60)
    bulk_rows = [line for line in p.stdout.splitlines() if " bulk " in line]
    check("`haechi status` follows the pages: counts and rows of all %d" % BULK,
          p.returncode == 0 and (" sent %d" % BULK) in p.stdout and len(bulk_rows) == BULK,
          "rc %s, %d rows; %s" % (p.returncode, len(bulk_rows), p.stderr.strip()[:300]))


def main():
    busy()
    paging_and_reconcile()


if __name__ == "__main__":
    h.run(main)
