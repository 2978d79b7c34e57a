"""The audience routes of the HTTP API against a real daemon: the lists, one
list's counts, its members page by page, one member (id URL-encoded, any
spelling), a status change (the unsubscribe route) and removal; roles (401,
403), the audit entries, and member ids never in full in the daemon's log.
"""

import os
import urllib.parse

import harness as h
from harness import check

N = 2500


def phone(i):
    return "010-0%03d-%04d" % (i // 10000 % 1000, i % 10000)


def e164(i):
    return "+82100%03d%04d" % (i // 10000 % 1000, i % 10000)


def enc(s):
    return urllib.parse.quote(s, safe="")


def main():
    redis = h.Redis("audience-api-redis")
    d = None
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        d = h.Daemon("aud-api", redis.address)
        if not check("haechi serve starts", d.start(), "see stderr"):
            return
        path = os.path.join(d.dir, "fans.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("phone,name,city\n")
            for i in range(N):
                f.write("%s,Fan %d,Seoul\n" % (phone(i), i))
        p = h.cli(["audience", "import", "fans", path, "--config", d.config_path])
        if not check("the list is imported with the daemon's config", p.returncode == 0,
                     p.stdout + p.stderr):
            return
        run_reads(d)
        run_changes(d)
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 on SIGTERM (no leaks)", status == 0, status)
        redis.stop()


def run_reads(d):
    s, _, b = d.http("GET", "/api/v1/audiences", "viewer")
    ids = [x.get("id") for x in (b or {}).get("lists", [])] if s == 200 else []
    check("GET /api/v1/audiences lists the list", s == 200 and ids == ["fans"] and
          b.get("total") == 1, (s, b))
    s, _, b = d.http("GET", "/api/v1/audiences?limit=0", "viewer")
    check("a limit of 0 is a 400 naming the parameter", s == 400 and "limit" in b["message"],
          (s, b))
    s, _, b = d.http("GET", "/api/v1/audiences/fans", "viewer")
    check("GET a list: version, members and counts by status",
          s == 200 and b.get("version") == 1 and b.get("members") == N and
          b["counts"]["active"] == N and b.get("fields") == ["city"] and b.get("kind") == "phone",
          (s, b))
    s, _, _ = d.http("GET", "/api/v1/audiences/fans")
    check("no token: 401", s == 401, s)
    s, _, b = d.http("GET", "/api/v1/audiences/nope", "viewer")
    check("an unknown list: 404", s == 404 and b.get("error") == "not-found", (s, b))
    s, _, b = d.http("GET", "/api/v1/audiences/Not_A_Slug", "viewer")
    check("a list id that is not a slug: 400 invalid-id naming a list id",
          s == 400 and b.get("error") == "invalid-id" and "list id" in b["message"], (s, b))

    s, _, b = d.http("GET", "/api/v1/audiences/fans/members", "viewer")
    members = b.get("members", []) if s == 200 else []
    check("page 0 of the members: 1,000 with their fields and status",
          s == 200 and len(members) == 1000 and b.get("pages") == 3 and b.get("next_page") == 1 and
          members[0] == {"id": e164(0), "name": "Fan 0", "lang": "", "fields": {"city": "Seoul"},
                         "status": "active"}, (s, members[:1], b.get("pages")))
    s, _, b = d.http("GET", "/api/v1/audiences/fans/members?page=2", "viewer")
    check("the last page holds the rest and no next page",
          s == 200 and len(b.get("members", [])) == N - 2000 and b.get("next_page") is None,
          (s, b.get("next_page")))
    s, _, b = d.http("GET", "/api/v1/audiences/fans/members?page=3", "viewer")
    check("a page past the last: 404", s == 404, (s, b))
    s, _, b = d.http("GET", "/api/v1/audiences/fans/members?page=x", "viewer")
    check("a page that is not a number: 400", s == 400, (s, b))

    for spelling in (phone(7), e164(7), "0100%s" % phone(7)[5:].replace("-", "")):
        s, _, b = d.http("GET", "/api/v1/audiences/fans/members/" + enc(spelling), "viewer")
        check("GET one member as %r" % spelling,
              s == 200 and b.get("id") == e164(7) and b.get("position") == 7 and
              b.get("status") == "active" and b.get("fields") == {"city": "Seoul"}, (s, b))
    s, _, b = d.http("GET", "/api/v1/audiences/fans/members/" + enc(phone(9999)), "viewer")
    check("a number not in the list: 404, the number masked",
          s == 404 and e164(9999) not in b.get("message", "") and
          phone(9999) not in b.get("message", ""), (s, b))
    s, _, b = d.http("GET", "/api/v1/audiences/fans/members/" + enc("not a number"), "viewer")
    check("an id that is not a phone number: 400", s == 400, (s, b))


def run_changes(d):
    jt = "application/json"
    url = "/api/v1/audiences/fans/members/%s/status" % enc(phone(3))
    s, _, b = d.http("PUT", url, "viewer", body={"status": "unsubscribed"}, content_type=jt)
    check("a viewer may not change a status: 403", s == 403, (s, b))
    s, _, b = d.http("PUT", url, None, body={"status": "unsubscribed"}, content_type=jt)
    check("no token: 401", s == 401, (s, b))
    s, _, b = d.http("PUT", url, "editor", body={"status": "unsubscribed", "reason": "clicked"},
                     content_type=jt)
    check("an editor unsubscribes a member",
          s == 200 and b.get("changed") is True and b.get("previous") == "active" and
          b.get("status") == "unsubscribed", (s, b))
    s, _, b = d.http("PUT", url, "editor", body={"status": "unsubscribed"}, content_type=jt)
    check("the same change again: 200, changed false", s == 200 and b.get("changed") is False,
          (s, b))
    s, _, b = d.http("PUT", url, "editor", body={"status": "gone"}, content_type=jt)
    check("an unknown status: 400 invalid-body", s == 400 and b.get("error") == "invalid-body",
          (s, b))
    s, _, b = d.http("PUT", url, "editor", body={"status": "removed"}, content_type=jt)
    check("removed is not set by PUT (DELETE removes): 400", s == 400, (s, b))
    s, _, b = d.http("PUT", url, "editor", body="status=x", content_type="text/plain")
    check("a body that is not JSON: 415", s == 415, (s, b))
    s, _, b = d.http("PUT", "/api/v1/audiences/fans/members/%s/status" % enc(phone(9999)),
                     "editor", body={"status": "bounced"}, content_type=jt)
    check("a status for someone not in the list: 404 not a member",
          s == 404 and "not a member" in b.get("message", ""), (s, b))
    s, _, b = d.http("GET", "/api/v1/audiences/fans/members/" + enc(phone(3)), "viewer")
    check("the member shows the status with who, when and why",
          s == 200 and b.get("status") == "unsubscribed" and b.get("reason") == "clicked" and
          b.get("status_by") == d.names["editor"] and b.get("status_at_ms", 0) > 0, (s, b))

    s, _, b = d.http("DELETE", "/api/v1/audiences/fans/members/" + enc(e164(4)), "viewer")
    check("a viewer may not remove: 403", s == 403, (s, b))
    s, _, b = d.http("DELETE", "/api/v1/audiences/fans/members/" + enc(e164(4)), "editor")
    check("an editor removes a member", s == 200 and b.get("status") == "removed", (s, b))
    s, _, b = d.http("GET", "/api/v1/audiences/fans", "viewer")
    counts = b.get("counts", {}) if s == 200 else {}
    check("the counts follow: 1 unsubscribed, 1 removed, the rest active",
          counts.get("unsubscribed") == 1 and counts.get("removed") == 1 and
          counts.get("active") == N - 2, counts)
    s, _, b = d.http("PUT", url, "editor", body={"status": "active"}, content_type=jt)
    check("active again clears the status", s == 200 and b.get("previous") == "unsubscribed",
          (s, b))
    p = h.cli(["audience", "export", "fans", "--status", "removed", "--config", d.config_path])
    check("the CLI's export sees the API's removal",
          p.returncode == 0 and p.stdout.splitlines()[1:] == ["%s,Fan 4,,Seoul,removed" % e164(4)],
          p.stdout + p.stderr)

    def audited():
        s, _, b = d.http("GET", "/api/v1/audit?count=100", "admin")
        entries = b.get("entries", b.get("audit", [])) if s == 200 and isinstance(b, dict) else []
        acts = [(e.get("action"), e.get("target"), e.get("who")) for e in entries]
        return acts if ("audience-status", "fans", d.names["editor"]) in acts and \
            ("audience-remove", "fans", d.names["editor"]) in acts else None
    acts = h.wait_until(audited)
    check("status changes and removals are audited with the list and who", acts, acts)
    check("the CLI's import is audited as cli:$USER",
          any(a[0] == "audience-import" and (a[2] or "").startswith("cli:") for a in acts or []),
          acts)

    log = d.log_text()
    check("the daemon logs the change with the member masked",
          "+8210****0003" in log or "****0003" in log, log[-800:])
    leaked = [x for x in (e164(3), e164(4), phone(3), phone(4), "0100000003", "01000000003")
              if x in log]
    check("no member id appears in full in the daemon's log", not leaked, leaked)


if __name__ == "__main__":
    h.run(main)
