"""Numbers and bodies the API takes are read strictly.

Every numeric query parameter goes through one parser (numparse.c): digits
only, no sign, no spaces, no leading zeros, no overflow, within its range; a
400 names the parameter and the rule. Every JSON body other than a campaign
is checked by the jcheck walker: a wrong type or an unknown field is a 400
"invalid-body" naming the JSON Pointer and the rule.
"""

import harness as h
from harness import check

JT = "application/json"
BAD_NUMBERS = ("99999999999999999999", "+1", " 1", "1x", "-1", "0", "", "01", "1.0", "0x10")


def quoted(v):
    return v.replace(" ", "%20").replace("+", "%2B")


def run_numbers(d):
    for param, path in (("version", "/api/v1/campaigns/n-base"),
                        ("count", "/api/v1/audit"),
                        ("upcoming", "/api/v1/campaigns/n-base/releases"),
                        ("limit", "/api/v1/campaigns/n-base/releases"),
                        ("limit", "/api/v1/campaigns")):
        for v in BAD_NUMBERS:
            s, _, b = d.http("GET", "%s?%s=%s" % (path, param, quoted(v)), "admin")
            msg = b.get("message", "") if isinstance(b, dict) else ""
            check("%s?%s=%r -> 400 naming the parameter and the rule" % (path, param, v),
                  s == 400 and b.get("error") == "bad-request" and param in msg
                  and "whole number" in msg, "status %s body %r" % (s, b))
    for param, path, value in (("version", "/api/v1/campaigns/n-base", "1"),
                               ("count", "/api/v1/audit", "1000"),
                               ("upcoming", "/api/v1/campaigns/n-base/releases", "3")):
        s, _, b = d.http("GET", "%s?%s=%s" % (path, param, value), "admin")
        check("?%s=%s -> 200" % (param, value), s == 200, "status %s body %r" % (s, b))
    s, _, b = d.http("GET", "/api/v1/audit?count=1001", "admin")
    check("?count=1001 -> 400 with the range", s == 400 and "1-1000" in b.get("message", ""),
          "status %s body %r" % (s, b))


def body_case(d, name, path, body, pointer, rule, role="editor"):
    s, _, b = d.http("POST", path, role, body=body, content_type=JT)
    errors = b.get("errors", []) if isinstance(b, dict) else []
    hit = [e for e in errors if e.get("path") == pointer and e.get("rule") == rule]
    check("%s -> 400 invalid-body naming %s (%s)" % (name, pointer or "/", rule),
          s == 400 and b.get("error") == "invalid-body" and hit
          and b.get("message", "").startswith(pointer or "/"),
          "status %s body %r" % (s, b))


def run_bodies(d):
    retry = "/api/v1/dead/retry"
    body_case(d, "dead retry {all: true, channel: 5}", retry, b'{"all": true, "channel": 5}',
              "/channel", "type")
    body_case(d, "dead retry with channel fax", retry, b'{"all": true, "channel": "fax"}',
              "/channel", "enum")
    body_case(d, "dead retry with an unknown field", retry, b'{"all": true, "chanel": "sns"}',
              "/chanel", "unknown-field")
    body_case(d, "dead retry {all: \"yes\"}", retry, b'{"all": "yes"}', "/all", "type")
    body_case(d, "dead retry {all: false}", retry, b'{"all": false}', "/all", "value")
    body_case(d, "dead retry with id and all", retry, b'{"all": true, "id": "1-0"}', "",
              "one-of")
    body_case(d, "dead retry with a malformed id", retry, b'{"id": "x"}', "/id", "format")
    s, _, b = d.http("POST", retry, "editor", body=b'{"all": true, "channel": "sns"}',
                     content_type=JT)
    check("dead retry {all: true, channel: sns} -> 200", s == 200 and b.get("requeued") == 0,
          "status %s body %r" % (s, b))
    clock = "/api/v1/test/clock"
    body_case(d, "clock with a string", clock, b'{"advance_ms": "10"}', "/advance_ms", "type",
              role="admin")
    body_case(d, "clock with an unknown field", clock, b'{"advance": 10}', "/advance",
              "unknown-field", role="admin")
    body_case(d, "clock going back", clock, b'{"advance_ms": -5}', "/advance_ms", "range",
              role="admin")
    s, _, b = d.http("POST", clock, "admin", body=b'{"advance_ms": 1000}', content_type=JT)
    check("clock {advance_ms: 1000} -> 200", s == 200, "status %s body %r" % (s, b))


def main():
    redis = h.Redis("input-redis")
    d = None
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        d = h.Daemon("input", redis.address, extra={
            "environment": "test", "testing": {"virtual_clock": True}})
        if not check("haechi serve writes its ready file", d.start(), "see stderr"):
            return
        s, _, b = d.http("POST", "/api/v1/campaigns", "editor",
                         body=h.campaign_json(h.future_campaign("n-base")), content_type=JT)
        check("setup: a campaign to read back -> 201", s == 201, "status %s body %r" % (s, b))
        run_numbers(d)
        run_bodies(d)
    finally:
        if d and d.process:
            status = d.stop()
            check("haechi serve exits 0 on SIGTERM (no leak, no sanitizer report)",
                  status == 0, "exit status %s" % status)
        redis.stop()


if __name__ == "__main__":
    h.run(main)
