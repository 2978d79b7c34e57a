"""The adapter contract, written once and run against every network adapter
with its stand-in (one contract_NAME.py entry each; the next adapters join
by adding theirs).

One daemon on a virtual clock, its sns channel on the "sns" adapter with a
section per network pointing at that network's stand-in. Every scenario is
a campaign of its own with one release and a text of its own (stand-ins
refuse duplicate content), on the network under test:

 1. success: sent, with the service's id and the follower count as reach;
    exactly one post request reached the stand-in;
 2. a 429, then success once the clock passes the reset the service gave;
 3. two 5xx answers, retried with a growing backoff, then success;
 4. each permanent error class of the service: a dead letter at the first
    attempt whose reason carries the service's code;
 5. an expired token: refreshed and sent (X), or a dead letter naming the
    credential to renew (the Graph and Kakao services cannot refresh);
 6. the answer dropped after the post was stored: the next attempt finds
    the post on the account and does not post again;
 7. a slow answer on one network: the release's other networks are sent
    meanwhile, and the slow one is sent once it answers;
 8. an hour after a post, the insights poll records the service's figures
    for it (impressions, unless the service reports none: KakaoStory).
"""

import datetime
import time

import audience_gen
import harness as h
import list_world
import sns_world
from harness import check

BASE_MS = h.seoul_ms(2020, 3, 2, 10, 0)
HOUR = 3600 * 1000
IMAGE = "https://www.seoul.go.kr/res/jamsi/pause-01.jpg"


class Scenarios:
    def __init__(self, world):
        self.w = world
        self.n = 0

    def campaign(self, tag, networks):
        """Submits a campaign whose one release is an hour ahead on the virtual
        clock; returns (cid, due_ms) or (None, None)."""
        self.n += 1
        due = BASE_MS + self.n * 2 * HOUR
        cid = "contract-%02d-%s" % (self.n, tag)
        self.w.clock(due - 60 * 1000)
        at = datetime.datetime.fromtimestamp(due / 1000, h.SEOUL).strftime("%Y-%m-%dT%H:%M:%S")
        doc = h.minimal_campaign(cid, ["sns"], "2020-03-01", "2020-03-31",
                                 [{"id": "go", "at": at, "channels": ["sns"]}])
        doc["sns"]["networks"] = networks
        doc["sns"]["text"] = {
            "ko": "[서울시] 잠시멈춤 계약 시험 %d (%s): 외출 자제, 마스크 착용" % (self.n, tag),
            "en": "[Seoul] Pause for a while, contract case %d (%s): stay in, wear a mask" % (
                self.n, tag)}
        doc["sns"]["image"] = IMAGE
        doc["sns"].pop("hashtags", None)
        s, b = h.submit_campaign(self.w.daemon, doc)
        if not check("%s: the campaign is accepted" % tag, s == 201, "%s %r" % (s, b)):
            return None, None
        return cid, due

    def record(self, cid, due, net):
        return h.fires(self.w.redis, self.w.daemon, cid).get("go|%d|sns|%s" % (due, net))

    def wait(self, cid, due, net, states, timeout=h.DEADLINE):
        def got():
            if not self.w.daemon.alive():
                return "daemon died"
            r = self.record(cid, due, net)
            return r if r and r.get("state") in states else None
        r = h.wait_until(got, timeout)
        return r if isinstance(r, dict) else None

    def fire(self, cid, due):
        self.w.clock(due)

    def retry_now(self, rec):
        """Moves the clock to the record's next attempt."""
        self.w.clock(max(self.w.now_ms, int(rec["next_attempt"])) + 1)

    def dead_reason(self, cid, net):
        for _, f in h.stream_entries(self.w.redis, h.engine_key(self.w.daemon, "dead")):
            if f.get("campaign") == cid and f.get("target") == net:
                return f.get("reason", "")
        return None


def success(sc, net, case):
    cid, due = sc.campaign("ok-" + net, [net])
    if not cid:
        return
    before = len(sc.w.posts(net))
    sc.fire(cid, due)
    rec = sc.wait(cid, due, net, ("sent", "dead", "declined"))
    check("%s: a release is sent" % net, rec and rec["state"] == "sent", rec)
    if not rec:
        return
    check("%s: the record holds the service's id" % net, bool(rec.get("external_id")), rec)
    check("%s: reach is the follower count the service reported (%d)" % (net, case["followers"]),
          rec.get("reach") == case["followers"], rec.get("reach"))
    check("%s: exactly one post request reached the stand-in" % net,
          len(sc.w.posts(net)) - before == 1, len(sc.w.posts(net)) - before)


def insights(sc, net, case):
    cid, due = sc.campaign("insights-" + net, [net])
    if not cid:
        return
    sc.fire(cid, due)
    rec = sc.wait(cid, due, net, ("sent", "dead", "declined"))
    if not check("%s: the post for the insights poll is sent" % net,
                 rec and rec["state"] == "sent", rec):
        return
    sc.w.clock(due + HOUR + 1000)

    def polled():
        r = sc.record(cid, due, net) or {}
        return r if (r.get("insights") or {}).get("polls") else None
    rec = h.wait_until(polled, timeout=h.DEADLINE if case.get("insights", True) else 3.0)
    if case.get("insights", True):
        figures = (rec or {}).get("insights") or {}
        check("%s: an hour later the poll recorded the service's figures (%s)" % (
            net, ", ".join(sorted(k for k in figures if k != "polls"))),
            rec and isinstance(figures.get("impressions"), int) and figures["impressions"] >= 0,
            rec or sc.record(cid, due, net))
    else:
        check("%s: the service reports no figures: no poll records any" % net,
              not rec, rec)


def rate_limited(sc, net, case):
    cid, due = sc.campaign("429-" + net, [net])
    if not cid:
        return
    sc.w.fakes[net].fault("rate-limit", count=1, route=case["post_route"][1])
    sc.fire(cid, due)
    rec = sc.wait(cid, due, net, ("failed", "held", "dead", "sent"))
    check("%s: a 429 is a retry later, with the rate-limit reason" % net,
          rec and rec["state"] in ("failed", "held") and "rate" in (rec.get("reason") or "").lower(),
          rec)
    if not rec or rec["state"] not in ("failed", "held"):
        return
    wait_ms = int(rec.get("next_attempt") or rec.get("until") or 0) - int(rec["at"])
    check("%s: the retry waits for the service's reset (%d ms here), not a blind backoff" % (
        net, wait_ms), wait_ms >= case.get("rate_limit_wait_ms", 1000), rec)
    sc.w.clock(int(rec.get("next_attempt") or rec.get("until")) - 1)
    early = sc.record(cid, due, net)
    check("%s: nothing is sent before the reset" % net, early and early["state"] != "sent",
          early)
    sc.w.clock(int(rec.get("next_attempt") or rec.get("until")) + 1)
    rec = sc.wait(cid, due, net, ("sent", "dead"))
    check("%s: after the reset the post is sent" % net, rec and rec["state"] == "sent", rec)


def server_errors(sc, net, case):
    cid, due = sc.campaign("5xx-" + net, [net])
    if not cid:
        return
    sc.w.fakes[net].fault("server-error", count=2, route=case["post_route"][1])
    sc.fire(cid, due)
    gaps = []
    for _ in range(2):
        rec = sc.wait(cid, due, net, ("failed",))
        if not rec:
            break
        retries = rec.get("retries") or []
        if retries:
            gaps.append(int(retries[-1]["next_attempt"]) - int(retries[-1]["at"]))
        sc.retry_now(rec)
        h.wait_until(lambda: (sc.record(cid, due, net) or {}).get("attempts", 0) > len(gaps))
    rec = sc.wait(cid, due, net, ("sent", "dead"))
    check("%s: after two 5xx answers the post is sent" % net, rec and rec["state"] == "sent",
          rec)
    check("%s: each 5xx was a retry with backoff (%s ms)" % (net, gaps),
          len(gaps) == 2 and gaps[0] > 0 and gaps[1] >= gaps[0] // 2, gaps)
    check("%s: the stand-in holds the post once" % net,
          sum(1 for r in sc.w.posts(net) if r.get("status") in (200, 201)) >= 1)


def permanent(sc, net, case):
    for fault, fragment in case["permanent"]:
        cid, due = sc.campaign("perm-%s-%s" % (net, fault.replace(":", "-")), [net])
        if not cid:
            continue
        sc.w.fakes[net].fault(fault, count=1, route=case["post_route"][1])
        sc.fire(cid, due)
        rec = sc.wait(cid, due, net, ("dead", "sent", "declined"))
        check("%s: %s is a dead letter at the first attempt" % (net, fault),
              rec and rec["state"] == "dead" and rec.get("attempts") == 1, rec)
        reason = sc.dead_reason(cid, net)
        check("%s: the dead letter for %s says why (%r)" % (net, fault, fragment),
              reason is not None and fragment in reason, reason)
        sc.w.fakes[net].clear_faults()


def expired_token(sc, net, case):
    cid, due = sc.campaign("token-" + net, [net])
    if not cid:
        return
    sc.w.fakes[net].fault("expire-token", count=1, route=case["post_route"][1])
    sc.fire(cid, due)
    if case["expired_token"] == "refresh":
        rec = sc.wait(cid, due, net, ("sent", "dead"))
        check("%s: an expired token is refreshed and the post sent" % net,
              rec and rec["state"] == "sent", rec)
    else:
        rec = sc.wait(cid, due, net, ("dead", "sent"))
        reason = sc.dead_reason(cid, net) or ""
        check("%s: an expired token is a dead letter naming the credential to renew" % net,
              rec and rec["state"] == "dead" and "token" in reason, reason or rec)
        # Give the stand-in its token back for the scenarios that follow.
        for t in case.get("tokens", []):
            sc.w.fakes[net].add_token(t)


def dropped_after_store(sc, net, case):
    cid, due = sc.campaign("drop-" + net, [net])
    if not cid:
        return
    before = len(sc.w.posts(net))
    sc.w.fakes[net].fault("drop-after-store", count=1, route=case["post_route"][1])
    sc.fire(cid, due)
    rec = sc.wait(cid, due, net, ("failed", "sent", "dead"))
    check("%s: an answer lost after the post was stored is a retry, not a failure" % net,
          rec and rec["state"] == "failed", rec)
    if not rec or rec["state"] != "failed":
        return
    sc.retry_now(rec)
    rec = sc.wait(cid, due, net, ("sent", "dead"))
    check("%s: the next attempt finds the post and records it as sent, saying so" % net,
          rec and rec["state"] == "sent" and rec.get("external_id") and
          "not posted again" in (rec.get("note") or ""), rec)
    posted = len(sc.w.posts(net)) - before
    check("%s: the stand-in got exactly one post request for it (no duplicate)" % net,
          posted == 1, posted)


def slow_network(sc, net, case, others):
    if not others:
        return
    cid, due = sc.campaign("slow-" + net, [net] + others)
    if not cid:
        return
    sc.w.fakes[net].fault("slow", count=1, ms=4000, route=case["post_route"][1])
    began = time.monotonic()
    sc.fire(cid, due)
    done = [sc.wait(cid, due, o, ("sent", "dead"), timeout=3.5) for o in others]
    slow = sc.record(cid, due, net)
    check("%s slow: the other networks (%s) are sent while it is still in flight" % (
        net, ", ".join(others)),
        all(r and r["state"] == "sent" for r in done) and slow and slow["state"] != "sent",
        {"others": done, "slow": slow, "after_s": round(time.monotonic() - began, 2)})
    rec = sc.wait(cid, due, net, ("sent", "dead"), timeout=15)
    check("%s slow: it is sent once it answers" % net, rec and rec["state"] == "sent", rec)


def expected_reach(world, cases):
    """haechi preview with a config naming the daemon shows each network's
    audience at its last post."""
    cfg = h.write_campaign(world.dir, "preview-client.json", {
        "client": {"url": world.daemon.url, "token": world.daemon.tokens["viewer"]}})
    p = h.cli(["preview", "--config", cfg, "--channel", "sns", "--release", "morning-post",
               h.EXAMPLE_CAMPAIGN])
    lines = [l.split() for l in p.stdout.splitlines() if l.startswith("  sns ")]
    got = {l[1]: int(l[2]) for l in lines if len(l) >= 3 and l[2].isdigit()}
    check("preview --config shows the expected reach of each network from the daemon",
          p.returncode == 0 and "expected reach" in p.stdout and
          got == {net: case["followers"] for net, case in cases.items()},
          "%r -- %s" % (got, p.stdout[-600:] + p.stderr))


# ---- list channels: a release to every active member of an audience list ----
#
# The same scenarios, counted in recipients: one list of LIST_N members, of
# whom EXCLUDED have a status that forbids sending (unsubscribed, bounced,
# blocked) and NOT_FRIENDS are refused by the dealer one by one. Each
# scenario is a campaign of its own with one release to the whole list.

LIST = "contract-friends"
LIST_N = 2500
EXCLUDED = {"unsubscribed": 20, "bounced": 10, "blocked": 5}


class ListScenarios:
    def __init__(self, world, members, excluded, not_friends):
        self.w = world
        self.n = 0
        self.members = members          # every number imported, E.164
        self.excluded = excluded        # number -> status
        self.not_friends = not_friends  # domestic numbers the stand-in refuses
        self.active = len(members) - len(excluded)
        self.accepted = self.active - len(not_friends)

    def campaign(self, tag, **section):
        self.n += 1
        due = BASE_MS + self.n * 2 * HOUR
        cid = "list-%02d-%s" % (self.n, tag)
        self.w.clock(due - 60 * 1000)
        at = datetime.datetime.fromtimestamp(due / 1000, h.SEOUL).strftime("%Y-%m-%dT%H:%M:%S")
        doc = list_world.kakao_campaign(cid, LIST, [{"id": "go", "at": at, "channels": ["kakao"]}],
                                        **section)
        s, b = h.submit_campaign(self.w.daemon, doc)
        if not check("kakao %s: the campaign is accepted" % tag, s == 201, "%s %r" % (s, b)):
            return None, None
        return cid, due

    def batch_record(self, cid, due, first):
        return h.fires(self.w.redis, self.w.daemon, cid).get("go|%d|kakao|v1:%d" % (due, first))

    def exactly_once(self, tag, cid, due, accepted=None):
        """The stand-in took each member the release could reach once, and none
        of those whose status forbids it."""
        want = self.accepted if accepted is None else accepted
        g = self.w.group(cid, "go", due)
        check("kakao %s: the stand-in accepted %d recipients, each once" % (tag, want),
              g.get("recipients") == want and g.get("duplicates") == 0, g)
        got = self.w.recipients("%s:go:%d" % (cid, due))
        leaked = sorted(n for n in (audience_gen.domestic(m) for m in self.excluded) if n in got)
        check("kakao %s: no unsubscribed, bounced or blocked member received it" % tag,
              not leaked, leaked[:5])


def list_success(sc):
    cid, due = sc.campaign("ok")
    if not cid:
        return
    sc.w.clock(due)
    rec = sc.w.wait(cid, "go", due, ("sent", "partial", "dead", "declined"))
    check("kakao ok: the release is sent", rec and rec["state"] == "sent", rec)
    if not rec:
        return
    batches = -(-LIST_N // 1000)
    check("kakao ok: it went in %d batches of at most 1,000 (v1:0, v1:1000, ...)" % batches,
          rec.get("target_count") == batches and
          all(sc.batch_record(cid, due, i * 1000) for i in range(batches)), rec)
    s, _, body = sc.w.daemon.http("GET", "/api/v1/campaigns/%s/releases" % cid, "viewer")
    prog = (((body or {}).get("releases") or [{}])[0].get("channels", {}).get("kakao", {})
            .get("progress", {})) if s == 200 else {}
    check("kakao ok: its progress: %d recipients, %d accepted, %d refused as not-friend, none "
          "remaining" % (sc.active, sc.accepted, len(sc.not_friends)),
          prog.get("total") == sc.active and prog.get("accepted") == sc.accepted and
          prog.get("failed") == len(sc.not_friends) and
          prog.get("failed_by") == {"not-friend": len(sc.not_friends)} and
          prog.get("remaining") == 0, prog)
    check("kakao ok: reach is the recipients accepted (%d)" % sc.accepted,
          rec.get("reach") == sc.accepted, rec.get("reach"))
    sc.exactly_once("ok", cid, due)
    p = h.cli(["status", cid], env={"HAECHI_URL": sc.w.daemon.url,
                                    "HAECHI_TOKEN": sc.w.daemon.tokens["viewer"]})
    check("kakao ok: `haechi status` prints the progress (%d/%d accepted, not-friend %d)" % (
        sc.accepted, sc.active, len(sc.not_friends)),
        p.returncode == 0 and "%d/%d accepted" % (sc.accepted, sc.active) in p.stdout and
        "not-friend %d" % len(sc.not_friends) in p.stdout, p.stdout[-800:] + p.stderr)


def list_rate_limited(sc):
    cid, due = sc.campaign("429")
    if not cid:
        return
    sc.w.fake.fault("rate-limit", count=1, route=sc.w.case["post_route"][1], ms=3000)
    sc.w.clock(due)

    def limited():
        recs = [sc.batch_record(cid, due, i * 1000) for i in range(3)]
        hit = [r for r in recs if r and r.get("state") in ("failed", "held")]
        return hit[0] if hit else None
    rec = h.wait_until(limited)
    check("kakao 429: the batch that met it waits, with the rate-limit reason",
          rec and "rate" in (rec.get("reason") or "").lower(), rec)
    if not rec:
        return
    later = int(rec.get("next_attempt") or rec.get("until") or 0)
    sc.w.clock(max(later, due + 3000) + 1)
    done = sc.w.wait(cid, "go", due, ("sent", "partial", "dead"))
    check("kakao 429: after the reset the release is sent", done and done["state"] == "sent",
          done)
    sc.exactly_once("429", cid, due)


def list_server_errors(sc):
    cid, due = sc.campaign("5xx")
    if not cid:
        return
    sc.w.fake.fault("server-error", count=2, route=sc.w.case["post_route"][1])
    sc.w.clock(due)
    for step in range(6):
        rec = sc.w.wait(cid, "go", due, ("sent", "partial", "dead"), timeout=2.0)
        if rec:
            break
        failed = [r for r in (sc.batch_record(cid, due, i * 1000) for i in range(3))
                  if r and r.get("state") == "failed" and r.get("next_attempt")]
        if failed:
            sc.w.clock(max(int(r["next_attempt"]) for r in failed) + 1)
    rec = sc.w.wait(cid, "go", due, ("sent", "partial", "dead"))
    check("kakao 5xx: after two 5xx answers, retried with backoff, the release is sent",
          rec and rec["state"] == "sent", rec)
    sc.exactly_once("5xx", cid, due)


def list_permanent(sc):
    for fault, fragment in sc.w.case["permanent"]:
        cid, due = sc.campaign("perm-" + fault.replace(":", "-"))
        if not cid:
            continue
        sc.w.fake.fault(fault, count=1, route=sc.w.case["post_route"][1])
        sc.w.clock(due)
        rec = sc.w.wait(cid, "go", due, ("sent", "partial", "dead"))
        dead = [f for _, f in h.stream_entries(sc.w.redis, h.engine_key(sc.w.daemon, "dead"))
                if f.get("campaign") == cid]
        check("kakao %s: one batch is a dead letter at its first attempt, saying why (%r)" % (
            fault, fragment),
            rec and rec["state"] == "partial" and len(dead) == 1 and
            fragment in dead[0].get("reason", "") and dead[0].get("attempts") == "1",
            {"record": rec, "dead": dead})
        sc.w.fake.clear_faults()


def list_dropped_after_store(sc):
    cid, due = sc.campaign("drop")
    if not cid:
        return
    sc.w.fake.fault("drop-after-store", count=1, route=sc.w.case["post_route"][1])
    sc.w.clock(due)

    def failed():
        recs = [sc.batch_record(cid, due, i * 1000) for i in range(3)]
        hit = [r for r in recs if r and r.get("state") == "failed"]
        return hit[0] if hit else None
    rec = h.wait_until(failed)
    check("kakao drop: a batch whose answer was lost after the dealer took it is a retry", rec,
          [sc.batch_record(cid, due, i * 1000) for i in range(3)])
    if not rec:
        return
    sc.w.clock(int(rec["next_attempt"]) + 1)
    done = sc.w.wait(cid, "go", due, ("sent", "partial", "dead"))
    check("kakao drop: the retry is recognised by the dealer (same idempotency key) and the "
          "release is sent", done and done["state"] == "sent", done)
    sc.exactly_once("drop", cid, due)


def list_slow(sc):
    cid, due = sc.campaign("slow")
    if not cid:
        return
    sc.w.fake.fault("slow", count=1, ms=4000, route=sc.w.case["post_route"][1])
    sc.w.clock(due)

    def others_sent():
        recs = [sc.batch_record(cid, due, i * 1000) for i in range(3)]
        sent = [r for r in recs if r and r.get("state") == "sent"]
        return recs if len(sent) == 2 else None
    recs = h.wait_until(others_sent, timeout=3.5)
    check("kakao slow: the other batches are sent while the slow one is in flight",
          recs is not None, [sc.batch_record(cid, due, i * 1000) for i in range(3)])
    done = sc.w.wait(cid, "go", due, ("sent", "partial", "dead"), timeout=15)
    check("kakao slow: the slow batch is sent once the dealer answers",
          done and done["state"] == "sent", done)
    sc.exactly_once("slow", cid, due)


def list_expected_reach(sc):
    cfg = h.write_campaign(sc.w.dir, "preview-client.json", {
        "client": {"url": sc.w.daemon.url, "token": sc.w.daemon.tokens["viewer"]}})
    doc = list_world.kakao_campaign("list-preview", LIST, [
        {"id": "go", "at": "2020-03-20T10:00:00", "channels": ["kakao"]}])
    path = h.write_campaign(sc.w.dir, "list-preview.json", doc)
    p = h.cli(["preview", "--config", cfg, "--channel", "kakao", path])
    line = [l for l in p.stdout.splitlines() if l.strip().startswith("kakao ")]
    check("preview --config shows the list's %d active members as kakao's expected reach" %
          sc.active, p.returncode == 0 and any(str(sc.active) in l.replace(",", "") and LIST in l
                                               for l in line),
          p.stdout[-600:] + p.stderr)


def list_channels():
    cases = sns_world.contract_cases("list")
    check("every list channel has a contract entry (kakao)", set(cases) == {"kakao"},
          sorted(cases))
    not_friend = [audience_gen.domestic(audience_gen.number(i)) for i in (3, 777, 1001, 1500,
                                                                          1999, 2001, 2498)]
    args = []
    for n in not_friend:
        args += ["--not-friend", n]
    world = list_world.ListWorld("contract-list", fake_args=args)
    try:
        if not world.start():
            return
        p, wrote = world.import_list(LIST, LIST_N)
        if not check("the %d-member list is imported" % LIST_N, p.returncode == 0,
                     (p.stdout + p.stderr)[-600:]):
            return
        members = audience_gen.ids(wrote)
        excluded = {}
        k = 0
        for status, count in EXCLUDED.items():
            for _ in range(count):
                m = members[10 + k * 61]
                k += 1
                excluded[m] = status
                q = world.set_status(LIST, m, status)
                if q.returncode != 0:
                    check("members' statuses are set", False, q.stderr)
                    return
        s, _, body = world.daemon.http("GET", "/api/v1/audiences/%s" % LIST, "viewer")
        counts = (body or {}).get("counts", {}) if s == 200 and isinstance(body, dict) else {}
        check("the list counts the statuses set: %s, %d active" % (
            ", ".join("%d %s" % (n, st) for st, n in EXCLUDED.items()), LIST_N - len(excluded)),
            all(counts.get(st) == n for st, n in EXCLUDED.items()) and
            counts.get("active") == LIST_N - len(excluded), body)
        sc = ListScenarios(world, members, excluded, not_friend)
        list_success(sc)
        list_rate_limited(sc)
        list_server_errors(sc)
        list_permanent(sc)
        list_dropped_after_store(sc)
        list_slow(sc)
        list_expected_reach(sc)
    finally:
        world.stop()


def main():
    cases = sns_world.contract_cases()
    check("every network has a contract entry (facebook, instagram, x, kakaostory)",
          set(cases) == {"facebook", "instagram", "x", "kakaostory"}, sorted(cases))
    world = sns_world.SnsWorld("contract", cases)
    try:
        if not world.start():
            return
        sc = Scenarios(world)
        for net, case in cases.items():
            success(sc, net, case)
            insights(sc, net, case)
            rate_limited(sc, net, case)
            server_errors(sc, net, case)
            permanent(sc, net, case)
            dropped_after_store(sc, net, case)
            slow_network(sc, net, case, [o for o in cases if o != net][:2])
            expired_token(sc, net, case)
        expected_reach(world, cases)
    finally:
        world.stop()
    list_channels()


if __name__ == "__main__":
    h.run(main)
