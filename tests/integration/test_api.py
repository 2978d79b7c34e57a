"""The HTTP API: every route x role x status code, error bodies and the audit trail.

One daemon on a private redis-server; the cases run in order (later ones rely
on what earlier ones stored). Each case prints one line named
"METHOD PATH as ROLE -> STATUS"; every mutating call is followed by a check
that the audit trail recorded it (who, role, action, target, status, client,
time), refused calls included.
"""

import datetime
import re
import time

import harness as h
from harness import check

BOGUS = "bogus-token-that-nobody-has-0123456789"
ANYONE = (None, "bogus", "viewer", "approver", "editor", "admin")
ONE_MIB = 1024 * 1024


def short(body, n=300):
    text = repr(body)
    return text if len(text) <= n else text[:n] + "..."


class Api:
    def __init__(self, daemon):
        self.d = daemon
        self.t0 = time.time()
        self.audited = 0  # mutating calls made, each of which must be in the trail
        self.crashes = 0

    def token(self, role):
        if role is None:
            return None
        if role == "bogus":
            return BOGUS
        return self.d.tokens[role]

    def who(self, role):
        if role in h.ROLES:
            return self.d.names[role], role
        return "-", "-"

    def call(self, method, path, role=None, **kw):
        return h.http(self.d.url, method, path, token=self.token(role), **kw)

    def case(self, method, path, role, expect, name=None, action=None, target="-",
             verify=None, **kw):
        """One request and one report line; then, for a mutating ACTION, one line
        for its audit entry. Returns (status, headers, body)."""
        who = {None: "no token", "bogus": "an unknown token"}.get(role, role)
        label = name or "%s %s as %s -> %d" % (method, path, who, expect)
        status, hdrs, body = self.call(method, path, role, **kw)
        self.survived(label)
        problems = []
        if status != expect:
            problems.append("status %s, expected %d" % (status, expect))
        if status is not None:
            ctype = hdrs.get("Content-Type") or ""
            if not ctype.startswith("application/json"):
                problems.append("Content-Type %r" % ctype)
            if status >= 400 and not h.is_error_body(body):
                problems.append("error body is not a JSON object with error and message")
            if status == 401 and not (hdrs.get("WWW-Authenticate") or "").startswith("Bearer"):
                problems.append("401 without WWW-Authenticate: Bearer")
            if status < 400 and not isinstance(body, dict):
                problems.append("answer is not a JSON object")
        if verify and status == expect:
            try:
                problems += verify(status, hdrs, body) or []
            except Exception as e:  # noqa: BLE001 - a malformed answer is a failure
                problems.append("answer not as expected: %s: %s" % (type(e).__name__, e))
        check(label, not problems, "; ".join(problems) + "; answer " + short(body))
        if action:
            self.audit_check(label, action, target, expect, role)
        return status, hdrs, body

    def survived(self, label):
        """A daemon that died on a request is a failure of its own; it is started
        again (same config, same Redis data) so that the remaining cases still run."""
        if self.d.alive():
            return
        status = self.d.process.wait(h.DEADLINE)
        h.log("haechi serve died on: %s; its log:\n%s" % (label, h.tail(self.d.log_path, 60)))
        self.crashes += 1
        check("the daemon survives %s" % label, False,
              "it exited with status %s (see stderr for the sanitizer report)" % status)
        self.d.process = None
        if not self.d.start():
            raise RuntimeError("haechi serve could not be started again")

    def audit_check(self, label, action, target, status, role):
        self.audited += 1
        s, _, body = self.call("GET", "/api/v1/audit?count=1", "admin")
        problems = []
        entries = body.get("entries") if isinstance(body, dict) else None
        if s != 200 or not isinstance(entries, list) or len(entries) != 1:
            problems.append("audit read: %s %s" % (s, short(body)))
        else:
            e = entries[0]
            who, r = self.who(role)
            want = {"who": who, "role": r, "action": action, "target": target,
                    "status": status}
            for k, v in want.items():
                if e.get(k) != v:
                    problems.append("%s is %r, expected %r" % (k, e.get(k), v))
            if not re.fullmatch(r"127\.0\.0\.1:\d+", str(e.get("client"))):
                problems.append("client is %r" % e.get("client"))
            at = parse_time(e.get("at"))
            if at is None or not (self.t0 - 5 <= at <= time.time() + 5):
                problems.append("time is %r" % e.get("at"))
        check("audit records " + label, not problems, "; ".join(problems) + "; entry " +
              short(entries[0] if entries else body))

    def get(self, cid, role="admin", query=""):
        return self.call("GET", "/api/v1/campaigns/%s%s" % (cid, query), role)

    def ids(self):
        s, _, body = self.call("GET", "/api/v1/campaigns", "admin")
        if s != 200:
            return None
        return sorted(c.get("id") for c in body.get("campaigns", []))


def parse_time(text):
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return None


def expect_error(code):
    def verify(status, hdrs, body):
        return [] if body.get("error") == code else ["error %r, expected %r" %
                                                     (body.get("error"), code)]
    return verify


def has_error_at(path, rule):
    def verify(status, hdrs, body):
        problems = []
        if body.get("error") != "invalid-campaign":
            problems.append("error %r" % body.get("error"))
        errors = body.get("errors")
        if not isinstance(errors, list) or not errors:
            return problems + ["no errors list"]
        for e in errors:
            if not (isinstance(e, dict) and all(isinstance(e.get(k), str)
                                                for k in ("path", "rule", "message"))):
                problems.append("error entry without path/rule/message: %r" % (e,))
        if not any(e.get("path") == path and e.get("rule") == rule for e in errors):
            problems.append("no error at %s (%s)" % (path, rule))
        return problems
    return verify


def allow_is(methods):
    def verify(status, hdrs, body):
        got = sorted(m.strip() for m in (hdrs.get("Allow") or "").split(",") if m.strip())
        return [] if got == sorted(methods) else ["Allow %r, expected %s" %
                                                  (hdrs.get("Allow"), methods)]
    return verify


def all_of(*verifiers):
    def verify(status, hdrs, body):
        problems = []
        for v in verifiers:
            problems += v(status, hdrs, body) or []
        return problems
    return verify


def tomorrow_first_release():
    return (h.seoul_today() + datetime.timedelta(days=1)).isoformat() + "T00:00:00+09:00"


def submitted(cid, version, status="scheduled", future=True):
    def verify(_, hdrs, body):
        problems = []
        if body.get("id") != cid:
            problems.append("id %r" % body.get("id"))
        if body.get("version") != version:
            problems.append("version %r, expected %d" % (body.get("version"), version))
        if body.get("status") != status:
            problems.append("status %r" % body.get("status"))
        nxt = body.get("next_releases")
        if not isinstance(nxt, list):
            problems.append("no next_releases list")
        elif future:
            if len(nxt) != 10:
                problems.append("%d next releases, expected 10" % len(nxt))
            elif (nxt[0].get("at"), nxt[0].get("release"), nxt[0].get("channels")) != (
                    tomorrow_first_release(), "banner-window", ["banner"]):
                problems.append("first next release %r" % nxt[0])
        if future and body.get("warnings") != []:
            problems.append("warnings %r" % body.get("warnings"))
        return problems
    return verify


def changed(cid, status, was_changed):
    def verify(_, hdrs, body):
        want = {"id": cid, "status": status, "changed": was_changed}
        got = {k: body.get(k) for k in want}
        return [] if got == want else ["answer %r, expected %r" % (got, want)]
    return verify


def run_matrix(api, d):
    """Every route x every role: 401 without or with an unknown token, 403 for a
    role without the permission, success otherwise."""
    writers = ("editor", "admin")
    json_type = "application/json"

    def body_for(cid, title=None):
        return h.campaign_json(h.future_campaign(cid, title=title))

    # GET /api/v1/campaigns
    for role in ANYONE:
        expect = 401 if role in (None, "bogus") else 200
        api.case("GET", "/api/v1/campaigns", role, expect,
                 verify=(lambda s, hd, b: [] if isinstance(b.get("campaigns"), list)
                         and "m-base" in [c.get("id") for c in b["campaigns"]]
                         else ["m-base not listed"]) if expect == 200 else None)

    # GET /api/v1/campaigns/{id}
    for role in ANYONE:
        expect = 401 if role in (None, "bogus") else 200
        api.case("GET", "/api/v1/campaigns/m-base", role, expect,
                 verify=(lambda s, hd, b: [] if (b.get("id"), b.get("version"),
                                                 b.get("status"),
                                                 b.get("campaign", {}).get("id")) ==
                         ("m-base", 1, "scheduled", "m-base") and
                         len(b.get("next_releases", [])) == 10
                         else ["answer does not describe m-base version 1"])
                 if expect == 200 else None)

    # POST /api/v1/campaigns
    for role in ANYONE:
        cid = "m-submit-%s" % (role or "anon")
        if role in (None, "bogus"):
            expect = 401
        else:
            expect = 201 if role in writers else 403
        verify = submitted(cid, 1) if expect == 201 else None
        if expect == 403:
            verify = (lambda r: lambda s, hd, b: [] if r in b.get("message", "")
                      else ["message does not name the role"])(role)
        api.case("POST", "/api/v1/campaigns", role, expect, action="submit",
                 target=cid if expect == 201 else "-", verify=verify,
                 body=body_for(cid), content_type=json_type)
        if expect != 201:
            s, _, _ = api.get(cid)
            check("refused submit as %s stored nothing (GET %s -> 404)" % (role or "anonymous",
                                                                          cid),
                  s == 404, "GET answered %s" % s)

    # PUT /api/v1/campaigns/{id}: the first allowed one makes version 2, the next 3.
    version = 1
    for role in ANYONE:
        if role in (None, "bogus"):
            expect = 401
        else:
            expect = 200 if role in writers else 403
        if expect == 200:
            version += 1
        api.case("PUT", "/api/v1/campaigns/m-base", role, expect, action="replace",
                 target="m-base",
                 verify=submitted("m-base", version) if expect == 200 else None,
                 body=body_for("m-base", title="m-base as replaced by %s" % role),
                 content_type=json_type)
    s, _, b = api.get("m-base")
    check("refused PUTs made no version (m-base is at version 3)",
          s == 200 and b.get("version") == 3, "GET: %s %s" % (s, short(b)))

    # pause / resume on m-state, cancel on m-cancel: the editor changes, then the
    # admin finds it already done (changed false). The refused callers come first,
    # so the editor's "changed: true" also shows they changed nothing.
    for action, cid, after in (("pause", "m-state", "paused"),
                               ("resume", "m-state", "scheduled"),
                               ("cancel", "m-cancel", "cancelled")):
        for role in ANYONE:
            if role in (None, "bogus"):
                expect = 401
            else:
                expect = 200 if role in writers else 403
            verify = changed(cid, after, role == "editor") if expect == 200 else None
            api.case("POST", "/api/v1/campaigns/%s/%s" % (cid, action), role, expect,
                     action=action, target=cid, verify=verify)

    # GET /api/v1/audit: admin only.
    for role in ANYONE:
        if role in (None, "bogus"):
            expect = 401
        else:
            expect = 200 if role == "admin" else 403
        api.case("GET", "/api/v1/audit", role, expect,
                 verify=(lambda s, hd, b: [] if isinstance(b.get("entries"), list)
                         and b["entries"] else ["no entries"]) if expect == 200 else
                 (lambda s, hd, b: [] if "admin" in b.get("message", "")
                  else ["403 message does not say admin is needed"]) if expect == 403
                 else None)


def run_engine_routes(api):
    """The release engine's routes x every role (m-base is armed by its submit)."""
    jt = "application/json"

    def expect_for(role, writers_only):
        if role in (None, "bogus"):
            return 401
        if writers_only:
            return None if role in ("editor", "admin") else 403
        return None

    for role in ANYONE:
        expect = expect_for(role, False) or 200
        api.case("GET", "/api/v1/campaigns/m-base/releases", role, expect,
                 verify=(lambda s, hd, b: [] if b.get("status") == "scheduled" and
                         b.get("releases") and all(
                             ch.get("state") == "scheduled" for r in b["releases"]
                             for ch in r.get("channels", {}).values())
                         else ["not the scheduled releases of m-base"])
                 if expect == 200 else None)
    api.case("GET", "/api/v1/campaigns/never-stored/releases", "viewer", 404)
    api.case("GET", "/api/v1/campaigns/m-base/releases?upcoming=0", "viewer", 400)

    # Nothing of m-base has expired, so a permitted send-now finds nothing (404).
    for role in ANYONE:
        expect = expect_for(role, True) or 404
        api.case("POST", "/api/v1/campaigns/m-base/releases/morning-post/send", role, expect,
                 action="send-now", target="m-base")

    for role in ANYONE:
        expect = expect_for(role, False) or 200
        api.case("GET", "/api/v1/dead", role, expect,
                 verify=(lambda s, hd, b: [] if b.get("dead") == [] else ["dead not empty"])
                 if expect == 200 else None)
    api.case("GET", "/api/v1/dead?channel=fax", "viewer", 400)

    for role in ANYONE:
        expect = expect_for(role, True) or 200
        api.case("POST", "/api/v1/dead/retry", role, expect, action="dead-retry",
                 target="*" if expect == 200 else "-",
                 verify=(lambda s, hd, b: [] if b.get("requeued") == 0 else ["requeued"])
                 if expect == 200 else None,
                 body=b'{"all": true}', content_type=jt)
    api.case("POST", "/api/v1/dead/retry", "editor", 404, name="dead retry of an unknown id "
             "-> 404", action="dead-retry", target="1-0", body=b'{"id": "1-0"}',
             content_type=jt)
    api.case("POST", "/api/v1/dead/retry", "editor", 400, name="dead retry of a malformed id "
             "-> 400", action="dead-retry", body=b'{"id": "not-an-id"}', content_type=jt)
    api.case("POST", "/api/v1/dead/retry", "editor", 400, name="dead retry without id or all "
             "-> 400", action="dead-retry", body=b'{}', content_type=jt)
    api.case("POST", "/api/v1/dead/retry", "editor", 415, name="dead retry as text -> 415",
             action="dead-retry", body=b'{"all": true}', content_type="text/plain")

    # The test clock exists only in test environments; this daemon is production.
    for role in ANYONE:
        if role in (None, "bogus"):
            expect = 401
        else:
            expect = 404 if role == "admin" else 403
        api.case("POST", "/api/v1/test/clock", role, expect, action="clock",
                 body=b'{"advance_ms": 1000}', content_type=jt)


def run_health(api):
    for role in ANYONE:
        api.case("GET", "/healthz", role, 200,
                 verify=lambda s, hd, b: [] if b.get("status") == "ok"
                 and b.get("redis") == "ready" and set(b.get("audit", {})) ==
                 {"buffered", "lost", "suppressed"} and b["connections"]["open"] >= 1
                 else ["body %r" % (b,)])


def run_auth_forms(api, d):
    v = d.tokens["viewer"]
    for label, header, expect in (
            ("Basic credentials", "Basic dmlld2VyOnNlY3JldA==", 401),
            ("an empty bearer token", "Bearer ", 401),
            ("a token with a character added", "Bearer " + v + "x", 401),
            ("a token cut short", "Bearer " + v[:-1], 401),
            ("a bare token without scheme", v, 401),
            ("the scheme in lower case", "bearer " + v, 200)):
        api.case("GET", "/api/v1/campaigns", None, expect,
                 name="GET /api/v1/campaigns with %s -> %d" % (label, expect),
                 authorization=header)
    # Another role's token never grants more: the approver may not submit.
    api.case("POST", "/api/v1/campaigns", "approver", 403, action="submit",
             name="POST /api/v1/campaigns as approver (valid body) -> 403",
             body=h.campaign_json(h.future_campaign("m-by-approver")),
             content_type="application/json")


def run_routes(api):
    for method, path in (("GET", "/"), ("GET", "/api/v1/nothing"), ("GET", "/api/v2/campaigns"),
                         ("GET", "/api/v1/campaigns/m-base/history"),
                         ("POST", "/api/v1/campaigns/m-base/approve"),
                         ("GET", "/api/v1/campaigns/m-base/pause/again"),
                         ("GET", "/healthz/deep"), ("GET", "/api/v1")):
        for role in (None, "admin"):
            api.case(method, path, role, 404, verify=expect_error("not-found"))

    for method, path, allowed in (("DELETE", "/api/v1/campaigns", ["GET", "POST"]),
                                  ("PUT", "/api/v1/campaigns", ["GET", "POST"]),
                                  ("DELETE", "/api/v1/campaigns/m-base", ["GET", "PUT"]),
                                  ("POST", "/api/v1/campaigns/m-base", ["GET", "PUT"]),
                                  ("GET", "/api/v1/campaigns/m-base/pause", ["POST"]),
                                  ("PUT", "/api/v1/campaigns/m-base/cancel", ["POST"]),
                                  ("POST", "/healthz", ["GET"]),
                                  ("DELETE", "/api/v1/audit", ["GET"]),
                                  ("PATCH", "/api/v1/campaigns/m-base", ["GET", "PUT"]),
                                  ("OPTIONS", "/api/v1/campaigns", ["GET", "POST"])):
        api.case(method, path, "admin", 405,
                 verify=all_of(expect_error("method-not-allowed"), allow_is(allowed)))


def run_versions(api):
    s, _, b = api.get("m-base")
    check("GET m-base is at version 3 with the admin's title",
          s == 200 and b.get("version") == 3 and
          b.get("campaign", {}).get("title") == "m-base as replaced by admin",
          "%s %s" % (s, short(b)))
    original = h.example_campaign()["title"]

    def version_is(v, title):
        def verify(_, hd, b):
            got = (b.get("version"), b.get("campaign", {}).get("title"))
            return [] if got == (v, title) else ["version/title %r, expected %r" %
                                                 (got, (v, title))]
        return verify

    api.case("GET", "/api/v1/campaigns/m-base?version=1", "viewer", 200,
             verify=version_is(1, original))
    api.case("GET", "/api/v1/campaigns/m-base?version=2", "viewer", 200,
             verify=version_is(2, "m-base as replaced by editor"))
    api.case("GET", "/api/v1/campaigns/m-base?version=4", "viewer", 404,
             verify=expect_error("not-found"))
    api.case("GET", "/api/v1/campaigns/m-base?version=99999999999999999999999", "viewer", 400)
    for bad in ("0", "-1", "abc", "1.5", "2x", ""):
        api.case("GET", "/api/v1/campaigns/m-base?version=%s" % bad, "viewer", 400,
                 verify=expect_error("bad-request"))
    api.case("GET", "/api/v1/campaigns/m-nope", "viewer", 404, verify=expect_error("not-found"))
    api.case("GET", "/api/v1/campaigns/m-nope?version=1", "viewer", 404,
             verify=expect_error("not-found"))


def run_invalid_ids(api):
    body = h.campaign_json(h.future_campaign("m-base"))
    long_id = "a" * 65
    for method, path, action in (
            ("GET", "/api/v1/campaigns/Bad_Id", None),
            ("GET", "/api/v1/campaigns/a--b", None),
            ("GET", "/api/v1/campaigns/-lead", None),
            ("GET", "/api/v1/campaigns/trail-", None),
            ("GET", "/api/v1/campaigns/%s" % long_id, None),
            ("GET", "/api/v1/campaigns/%2e%2e", None),
            ("PUT", "/api/v1/campaigns/UPPER", "replace"),
            ("POST", "/api/v1/campaigns/x%20y/pause", "pause"),
            ("POST", "/api/v1/campaigns/under_score/resume", "resume"),
            ("POST", "/api/v1/campaigns/%s/cancel" % long_id, "cancel")):
        kw = {"body": body, "content_type": "application/json"} if method == "PUT" else {}
        api.case(method, path, "editor", 400, action=action,
                 verify=expect_error("invalid-id"), **kw)


def run_invalid_campaigns(api, redis, d):
    before = api.ids()
    jt = "application/json"

    bad = h.future_campaign("m-invalid")
    del bad["title"]
    bad["schedule"]["releases"][2]["cron"] = "0 25 * * *"
    api.case("POST", "/api/v1/campaigns", "editor", 400, action="submit",
             name="POST invalid campaign (no title, bad cron hour) -> 400",
             verify=all_of(has_error_at("/title", "required"),
                           has_error_at("/schedule/releases/2/cron", "cron")),
             body=h.campaign_json(bad), content_type=jt)
    s, _, b = api.get("m-invalid")
    check("invalid campaign not stored: GET /api/v1/campaigns/m-invalid -> 404", s == 404,
          "%s %s" % (s, short(b)))
    keys = redis.command("KEYS", d.prefix + ":*")
    check("invalid campaign left no Redis key",
          isinstance(keys, list) and not any("m-invalid" in k for k in keys), short(keys))

    typo = h.future_campaign("m-typo")
    typo["titel"] = typo.pop("title")
    api.case("POST", "/api/v1/campaigns", "editor", 400, action="submit",
             name="POST campaign with unknown field /titel -> 400",
             verify=has_error_at("/titel", "unknown-field"),
             body=h.campaign_json(typo), content_type=jt)

    order = h.future_campaign("m-order")
    order["schedule"]["end"], order["schedule"]["start"] = (order["schedule"]["start"],
                                                            order["schedule"]["end"])
    order["schedule"]["end"] = "2020-01-01"
    api.case("POST", "/api/v1/campaigns", "editor", 400, action="submit",
             name="POST campaign whose window ends before it starts -> 400",
             verify=has_error_at("/schedule/end", "order"),
             body=h.campaign_json(order), content_type=jt)

    for label, raw in (("truncated JSON", b'{"id": "m-broken", '), ("an empty body", b""),
                       ("a JSON array", b"[]"), ("invalid UTF-8", b'{"id": "\xff\xfe"}')):
        api.case("POST", "/api/v1/campaigns", "editor", 400, action="submit",
                 name="POST %s -> 400" % label,
                 verify=lambda s, hd, b: [] if b.get("error") == "invalid-campaign" and
                 isinstance(b.get("errors"), list) and b["errors"] else ["no errors list"],
                 body=raw, content_type=jt)

    # PUT whose body names another campaign than the URL.
    api.case("PUT", "/api/v1/campaigns/m-other", "editor", 400, action="replace",
             target="m-other", name="PUT /api/v1/campaigns/m-other with id m-base -> 400",
             verify=has_error_at("/id", "id-mismatch"),
             body=h.campaign_json(h.future_campaign("m-base")), content_type=jt)
    s, _, _ = api.get("m-other")
    check("id-mismatch PUT stored nothing under m-other", s == 404, "GET answered %s" % s)
    s, _, b = api.get("m-base")
    check("id-mismatch PUT left m-base at version 3", s == 200 and b.get("version") == 3,
          "%s version %s" % (s, b.get("version") if isinstance(b, dict) else b))

    after = api.ids()
    check("refused submissions left the campaign list unchanged",
          before is not None and before == after, "before %s after %s" % (before, after))


def run_conflicts_and_replace(api):
    jt = "application/json"
    api.case("POST", "/api/v1/campaigns", "editor", 409, action="submit", target="m-base",
             name="POST duplicate m-base -> 409",
             verify=lambda s, hd, b: [] if b.get("error") == "conflict" and
             "already exists" in b.get("message", "") else ["error/message %r" % (b,)],
             body=h.campaign_json(h.future_campaign("m-base")), content_type=jt)
    api.case("POST", "/api/v1/campaigns?replace=false", "editor", 409, action="submit",
             target="m-base", name="POST duplicate m-base with ?replace=false -> 409",
             body=h.campaign_json(h.future_campaign("m-base")), content_type=jt)
    s, _, b = api.get("m-base")
    check("duplicate submits made no version (m-base still at 3)",
          s == 200 and b.get("version") == 3, "%s %s" % (s, short(b)))

    api.case("POST", "/api/v1/campaigns?replace=true", "editor", 200, action="submit",
             target="m-base", name="POST m-base with ?replace=true -> 200 (version 4)",
             verify=submitted("m-base", 4),
             body=h.campaign_json(h.future_campaign("m-base", title="m-base v4")),
             content_type=jt)
    api.case("POST", "/api/v1/campaigns?replace=1", "admin", 200, action="submit",
             target="m-base", name="POST m-base with ?replace=1 -> 200 (version 5)",
             verify=submitted("m-base", 5),
             body=h.campaign_json(h.future_campaign("m-base", title="m-base v5")),
             content_type=jt)
    api.case("POST", "/api/v1/campaigns?replace=true", "editor", 201, action="submit",
             target="m-fresh", name="POST new m-fresh with ?replace=true -> 201 (version 1)",
             verify=submitted("m-fresh", 1),
             body=h.campaign_json(h.future_campaign("m-fresh")), content_type=jt)
    api.case("PUT", "/api/v1/campaigns/m-put-new", "editor", 201, action="replace",
             target="m-put-new", name="PUT new m-put-new -> 201 (version 1)",
             verify=submitted("m-put-new", 1),
             body=h.campaign_json(h.future_campaign("m-put-new")), content_type=jt)
    s, _, b = api.get("m-base", query="?version=1")
    check("after replacing, ?version=1 still answers the first version",
          s == 200 and b.get("version") == 1 and
          b.get("campaign", {}).get("title") == h.example_campaign()["title"],
          "%s %s" % (s, short(b)))
    s, _, b = api.get("m-base")
    check("after replacing, GET answers version 5 with its title",
          s == 200 and b.get("version") == 5 and
          b.get("campaign", {}).get("title") == "m-base v5", "%s %s" % (s, short(b)))

    # The past window: stored, but nothing ahead and a warning saying so.
    def past(_, hd, b):
        problems = []
        if b.get("next_releases") != []:
            problems.append("next_releases %r" % b.get("next_releases"))
        if not any(w.get("rule") == "past-window" and w.get("path") == "/schedule/end"
                   for w in b.get("warnings") or []):
            problems.append("no past-window warning: %r" % b.get("warnings"))
        return problems
    with open(h.EXAMPLE_CAMPAIGN, "rb") as f:
        example = f.read()
    api.case("POST", "/api/v1/campaigns", "editor", 201, action="submit",
             target="jamsi-meomchum",
             name="POST the example campaign (window in 2020) -> 201 with past-window warning",
             verify=past, body=example, content_type=jt)


def run_status_changes(api):
    # m-cancel was cancelled by the matrix: nothing but cancel applies to it.
    for action in ("resume", "pause"):
        api.case("POST", "/api/v1/campaigns/m-cancel/%s" % action, "editor", 409,
                 action=action, target="m-cancel",
                 name="POST %s of a cancelled campaign -> 409" % action,
                 verify=lambda s, hd, b: [] if b.get("error") == "conflict" and
                 "cancelled" in b.get("message", "") else ["error/message %r" % (b,)])
    api.case("POST", "/api/v1/campaigns/m-cancel/cancel", "editor", 200, action="cancel",
             target="m-cancel", name="POST cancel of a cancelled campaign -> 200 changed false",
             verify=changed("m-cancel", "cancelled", False))
    api.case("PUT", "/api/v1/campaigns/m-cancel", "editor", 409, action="replace",
             target="m-cancel", name="PUT of a cancelled campaign -> 409",
             verify=expect_error("cancelled"),
             body=h.campaign_json(h.future_campaign("m-cancel")),
             content_type="application/json")
    s, _, b = api.get("m-cancel")
    check("m-cancel stays cancelled at version 1",
          s == 200 and b.get("status") == "cancelled" and b.get("version") == 1,
          "%s %s" % (s, short(b)))
    # resume of a scheduled campaign: nothing to do.
    api.case("POST", "/api/v1/campaigns/m-state/resume", "editor", 200, action="resume",
             target="m-state", name="POST resume of a scheduled campaign -> 200 changed false",
             verify=changed("m-state", "scheduled", False))
    for action in ("pause", "resume", "cancel"):
        api.case("POST", "/api/v1/campaigns/m-nope/%s" % action, "editor", 404,
                 action=action, target="m-nope", verify=expect_error("not-found"))
    s, _, _ = api.get("m-nope")
    check("status changes of an unknown id created nothing", s == 404, "GET answered %s" % s)


def padded(doc, size):
    raw = h.campaign_json(doc)
    return raw + b" " * (size - len(raw))


def run_limits(api):
    jt = "application/json"
    over = padded(h.future_campaign("m-big"), ONE_MIB + 1)
    api.case("POST", "/api/v1/campaigns", "editor", 413, action="submit",
             name="POST 1 MiB + 1 byte -> 413", verify=expect_error("payload-too-large"),
             body=over, content_type=jt)
    api.case("PUT", "/api/v1/campaigns/m-big", "editor", 413, action="replace",
             target="m-big", name="PUT 1 MiB + 1 byte -> 413",
             verify=expect_error("payload-too-large"), body=over, content_type=jt)
    api.case("POST", "/api/v1/campaigns", "editor", 413, action="submit",
             name="POST 2 MiB -> 413", verify=expect_error("payload-too-large"),
             body=padded(h.future_campaign("m-big"), 2 * ONE_MIB), content_type=jt)
    s, _, _ = api.get("m-big")
    check("oversized bodies stored nothing", s == 404, "GET answered %s" % s)
    api.case("POST", "/api/v1/campaigns", "editor", 201, action="submit", target="m-exact",
             name="POST exactly 1 MiB -> 201", verify=submitted("m-exact", 1),
             body=padded(h.future_campaign("m-exact"), ONE_MIB), content_type=jt)

    body = h.campaign_json(h.future_campaign("m-ctype"))
    for label, kw in (("text/plain", {"content_type": "text/plain"}),
                      ("no Content-Type", {"no_content_type": True}),
                      ("application/json-seq", {"content_type": "application/json-seq"}),
                      ("a form", {"content_type": "application/x-www-form-urlencoded"})):
        api.case("POST", "/api/v1/campaigns", "editor", 415, action="submit",
                 name="POST with %s -> 415" % label,
                 verify=expect_error("unsupported-media-type"), body=body, **kw)
    api.case("PUT", "/api/v1/campaigns/m-ctype", "editor", 415, action="replace",
             target="m-ctype", name="PUT with text/plain -> 415",
             verify=expect_error("unsupported-media-type"), body=body,
             content_type="text/plain")
    s, _, _ = api.get("m-ctype")
    check("refused content types stored nothing", s == 404, "GET answered %s" % s)
    api.case("POST", "/api/v1/campaigns", "editor", 201, action="submit", target="m-ctype",
             name="POST with APPLICATION/JSON; charset=utf-8 -> 201",
             verify=submitted("m-ctype", 1), body=body,
             content_type="APPLICATION/JSON; charset=utf-8")


def run_audit_reads(api, d, mutating_calls):
    def count_is(n):
        def verify(_, hd, b):
            e = b.get("entries")
            if not isinstance(e, list) or len(e) != n:
                return ["%s entries, expected %d" % (len(e) if isinstance(e, list) else e, n)]
            ids = [x.get("stream_id") for x in e]
            keyed = [tuple(int(p) for p in i.split("-")) for i in ids]
            return [] if keyed == sorted(keyed, reverse=True) else ["not newest first: %s" % ids]
        return verify

    api.case("GET", "/api/v1/audit?count=2", "admin", 200, verify=count_is(2))
    api.case("GET", "/api/v1/audit?count=1", "admin", 200, verify=count_is(1))
    for bad in ("0", "1001", "-3", "many"):
        api.case("GET", "/api/v1/audit?count=%s" % bad, "admin", 400,
                 verify=expect_error("bad-request"))
    s, _, b = api.call("GET", "/api/v1/audit?count=1000", "admin")
    entries = b.get("entries") if isinstance(b, dict) else None
    check("GET /api/v1/audit?count=1000 answers the whole trail",
          s == 200 and isinstance(entries, list) and len(entries) == mutating_calls,
          "%s: %s entries, expected %d" % (s, len(entries) if isinstance(entries, list)
                                          else entries, mutating_calls))
    fields = ("at", "who", "role", "action", "target", "status", "client")
    incomplete = [e for e in entries or [] if any(e.get(k) in (None, "") for k in fields)]
    check("every audit entry has who, role, action, target, status, client and time",
          entries and not incomplete, short(incomplete))
    refused = [e for e in entries or [] if isinstance(e.get("status"), int) and
               e["status"] >= 400]
    statuses = sorted({e["status"] for e in refused})
    check("the audit trail holds refused calls (401, 403, 400, 404, 409, 413, 415)",
          all(code in statuses for code in (400, 401, 403, 404, 409, 413, 415)),
          "statuses seen: %s" % statuses)


def main():
    redis = h.Redis("api-redis")
    d = None
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        d = h.Daemon("api", redis.address)
        if not check("haechi serve writes its ready file", d.start(), "see stderr"):
            return
        api = Api(d)
        jt = "application/json"
        for cid in ("m-base", "m-state", "m-cancel"):
            api.case("POST", "/api/v1/campaigns", "admin", 201, action="submit", target=cid,
                     name="setup: POST %s as admin -> 201" % cid, verify=submitted(cid, 1),
                     body=h.campaign_json(h.future_campaign(cid)), content_type=jt)
        run_health(api)
        run_matrix(api, d)
        run_engine_routes(api)
        run_auth_forms(api, d)
        run_routes(api)
        run_versions(api)
        run_invalid_ids(api)
        run_invalid_campaigns(api, redis, d)
        run_conflicts_and_replace(api)
        run_status_changes(api)
        run_limits(api)
        run_audit_reads(api, d, api.audited)
        check("the daemon ran every case without dying", api.crashes == 0 and d.alive(),
              "it died %d time(s)" % api.crashes)
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 on SIGTERM (no leak, no sanitizer report)",
                  status == 0, "exit status %s" % status)
        redis.stop()


if __name__ == "__main__":
    h.run(main)
