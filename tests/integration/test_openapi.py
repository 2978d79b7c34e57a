"""docs/openapi.yaml against the running daemon.

A client or the dashboard reads the description, not the C: so it is held
to what the daemon does, by its answers.

1. The document itself: OpenAPI 3.1 in shape, every $ref resolving (the
   campaign schema file included), unique operationIds, responses on every
   operation, path parameters declared, component schemas valid 2020-12.
2. The route table: the daemon lists its routes (GET /api/v1/debug/routes,
   admin), and that list must equal the document's paths x methods, with the
   same role and audit action. Independently of that list, by plain HTTP:
   every documented operation reaches a handler (401 without a token, not
   the router's 404/405); every other method on a documented path is 405
   with Allow equal to the documented methods; paths one segment longer or
   shorter than a documented one are 404.
3. Real answers: every answer the test provokes (successes with each role
   allowed, 401, 403, 400, 404, 405, 409, 413, 415, 503) is validated
   against the response the document gives for that path, method and
   status, including its required headers; an undocumented status fails.
   Refusals on the wire (501, 417, 431) are held to the Wire* responses, an
   Idempotency-Key retry to its replay, paged lists to their cursors.
   At the end every documented status of every operation must have been
   seen at least once (500 excepted: nothing provokes it from outside).

Two daemons on one private redis-server: "engine" with the virtual clock
(test environment) where releases fire, fail into dead letters and expire;
"plain" on the real clock (production) for campaign submissions and the
test clock's 404.
"""

import copy
import json
import os
import re
import urllib.parse

import harness as h
from harness import check

try:
    import jsonschema
    import yaml
except ImportError as e:  # pragma: no cover - reported as a failed case
    jsonschema = yaml = None
    IMPORT_ERROR = str(e)

SPEC_PATH = os.path.join(h.ROOT, "docs", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBE_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
ROLE_ORDER = ("viewer", "editor", "approver", "admin")
# Placeholders for path parameters when only the route matters.
PLACEHOLDER = {"id": "oa-nothing", "release": "go", "member": "010-0000-0001"}
CAMPAIGN_LIMIT = 16384
# Refusals on the wire, before routing: any path may answer them.
WIRE = {408: "WireRequestTimeout", 417: "WireExpectationFailed", 431: "WireHeadersTooLarge",
        501: "WireNotImplemented"}
D = lambda hour, minute=0: h.seoul_ms(2020, 5, 4, hour, minute)  # noqa: E731


def short(x, n=400):
    t = repr(x)
    return t if len(t) <= n else t[:n] + "..."


# ---- the document ------------------------------------------------------------


def pointer_get(doc, pointer):
    node = doc
    for part in pointer.lstrip("/").split("/") if pointer not in ("", "/") else []:
        part = urllib.parse.unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node[part]
    return node


def resolve_ref(spec, ref, base_dir):
    """The target of REF (local, or a relative file with an optional fragment)."""
    where, _, frag = ref.partition("#")
    doc = spec
    if where:
        with open(os.path.normpath(os.path.join(base_dir, where)), encoding="utf-8") as f:
            doc = json.load(f) if where.endswith(".json") else yaml.safe_load(f)
    return pointer_get(doc, frag)


def walk_refs(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield path, v
            else:
                yield from walk_refs(v, path + "/" + str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk_refs(v, "%s/%d" % (path, i))


def deref(spec, node):
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        node = resolve_ref(spec, node["$ref"], os.path.dirname(SPEC_PATH))
    return node


def operations(spec):
    for path, item in spec["paths"].items():
        for m in METHODS:
            if m in item:
                yield path, m, item[m]


def check_document(spec):
    check("openapi.yaml: openapi is 3.1.x",
          re.fullmatch(r"3\.1\.\d+", str(spec.get("openapi"))), spec.get("openapi"))
    info = spec.get("info") or {}
    check("openapi.yaml: info has title and version",
          isinstance(info.get("title"), str) and isinstance(info.get("version"), str), info)
    check("openapi.yaml: paths is a non-empty object, every key starting with /",
          isinstance(spec.get("paths"), dict) and spec["paths"] and
          all(p.startswith("/") for p in spec["paths"]), list(spec.get("paths") or {}))

    broken = []
    for where, ref in walk_refs(spec):
        try:
            resolve_ref(spec, ref, os.path.dirname(SPEC_PATH))
        except (KeyError, IndexError, ValueError, OSError) as e:
            broken.append("%s -> %s (%s)" % (where, ref, e))
    check("openapi.yaml: every $ref resolves", not broken, broken)

    ops = list(operations(spec))
    ids = [op.get("operationId") for _, _, op in ops]
    check("openapi.yaml: every operation has an operationId, and they are unique",
          all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids), ids)
    check("openapi.yaml: every operation has responses, each with a description",
          all(op.get("responses") and all("description" in deref(spec, r)
                                           for r in op["responses"].values())
              for _, _, op in ops),
          [(p, m) for p, m, op in ops if not op.get("responses")])

    undeclared = []
    for path, m, op in ops:
        params = [deref(spec, p) for p in
                  spec["paths"][path].get("parameters", []) + op.get("parameters", [])]
        declared = {p["name"] for p in params if p.get("in") == "path" and p.get("required")}
        wanted = set(re.findall(r"\{([^}]+)\}", path))
        if declared != wanted:
            undeclared.append("%s %s: template %s, declared %s" % (m, path, sorted(wanted),
                                                                   sorted(declared)))
    check("openapi.yaml: every path template parameter is declared (in: path, required)",
          not undeclared, undeclared)

    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    check("openapi.yaml: a bearer security scheme is the default",
          schemes.get("bearer", {}).get("type") == "http" and
          schemes["bearer"].get("scheme") == "bearer" and
          spec.get("security") == [{"bearer": []}], schemes)

    bad_roles = []
    for path, m, op in ops:
        role = op.get("x-haechi-role")
        roles = op.get("x-haechi-roles")
        if role is None:
            if op.get("security") != [] or roles is not None:
                bad_roles.append("%s %s: no role but security %r" % (m, path, op.get("security")))
            continue
        if role not in ROLE_ORDER or not isinstance(roles, list) or role not in roles or \
                "admin" not in roles or "401" not in op["responses"]:
            bad_roles.append("%s %s: role %r, roles %r" % (m, path, role, roles))
        if set(roles) != set(ROLE_ORDER) and "403" not in op["responses"]:
            bad_roles.append("%s %s: roles %r but no 403" % (m, path, roles))
    check("openapi.yaml: every operation needing a token names its role (x-haechi-role, "
          "x-haechi-roles) and documents 401, and 403 when some role is refused",
          not bad_roles, bad_roles)

    invalid = []
    for name, schema in spec["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            invalid.append("%s: %s" % (name, e.message))
    check("openapi.yaml: every component schema is a valid JSON Schema 2020-12", not invalid,
          invalid)

    codes = spec["components"]["schemas"]["ErrorCode"]["enum"]
    with open(os.path.join(h.ROOT, "docs", "api.md"), encoding="utf-8") as f:
        documented = re.findall(r"^\| \d{3} \| `([a-z-]+)` \|", f.read(), re.M)
    check("openapi.yaml: the ErrorCode enum is docs/api.md's error table",
          documented and sorted(documented) == sorted(codes),
          "api.md %s, openapi %s" % (sorted(documented), sorted(codes)))


# ---- matching answers to the document ----------------------------------------


class Spec:
    def __init__(self, spec):
        self.spec = spec
        self.paths = list(spec["paths"])
        self.regex = {p: re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) +
                                    "/?$") for p in self.paths}
        self.seen = set()  # (path, method, status)

    def template(self, concrete):
        path = concrete.split("?", 1)[0]
        hits = [p for p in self.paths if self.regex[p].match(path)]
        return hits[0] if len(hits) == 1 else None

    def methods(self, template):
        return sorted(m.upper() for m in METHODS if m in self.spec["paths"][template])

    def response(self, template, method, status):
        """The documented response object, or None."""
        if template is None:
            return None
        op = self.spec["paths"][template].get(method.lower())
        if op is None:
            return None
        r = op["responses"].get(str(status)) or op["responses"].get("default")
        return deref(self.spec, r) if r is not None else None

    def validate(self, schema, body):
        root = dict(self.spec)
        root.update(schema)
        v = jsonschema.Draft202012Validator(root)
        return ["%s at %s" % (e.message, "/".join(str(x) for x in e.absolute_path))
                for e in v.iter_errors(body)][:5]

    def problems(self, response, hdrs, body):
        out = []
        for name, hdr in (response.get("headers") or {}).items():
            hdr = deref(self.spec, hdr)
            got = hdrs.get(name)
            if got is None:
                if hdr.get("required"):
                    out.append("header %s missing" % name)
            elif "const" in hdr.get("schema", {}) and got != hdr["schema"]["const"]:
                out.append("header %s is %r" % (name, got))
        content = response.get("content") or {}
        ctype = (hdrs.get("Content-Type") or "").split(";")[0].strip()
        if ctype not in content:
            return out + ["Content-Type %r not documented (%s)" % (ctype, list(content))]
        if ctype == "application/json":
            out += self.validate(content[ctype]["schema"], body)
        return out

    def component_response(self, name):
        return deref(self.spec, self.spec["components"]["responses"][name])


class Caller:
    def __init__(self, sp, daemons):
        self.sp = sp
        self.daemons = daemons  # name -> Daemon

    def call(self, d, method, path, role=None, expect=None, name=None, **kw):
        """One request whose answer must be what the document says for it.
        Returns (status, headers, body)."""
        token = d.tokens.get(role) if role else None
        s, hdrs, body = h.http(d.url, method, path, token=token, **kw)
        template = self.sp.template(path)
        look = "GET" if method == "HEAD" else method
        label = name or "%s %s as %s -> %s" % (method, path, role or "no token",
                                               expect if expect else s)
        problems = []
        if expect is not None and s not in (expect if isinstance(expect, tuple) else (expect,)):
            problems.append("status %s, expected %s" % (s, expect))
        if s is None:
            problems.append("no answer: %s" % body)
        elif method != "HEAD":
            resp = self.sp.response(template, look, s)
            if resp is None and s == 405:
                resp = self.sp.component_response("MethodNotAllowed")
            if resp is None and s == 404 and template is None:
                resp = self.sp.component_response("NotFound")
            if resp is None and s in WIRE:
                resp = self.sp.component_response(WIRE[s])
            if resp is None:
                problems.append("status %s is not documented for %s %s" % (s, look, template))
            else:
                problems += self.sp.problems(resp, hdrs, body)
                if template and self.sp.response(template, look, s) is not None:
                    self.sp.seen.add((template, look.lower(), str(s)))
        check("answer as documented: " + label, not problems,
              "; ".join(problems) + "; answer " + short(body))
        return s, hdrs, body


# ---- the route table -----------------------------------------------------------


def concrete(template, values=None):
    values = dict(PLACEHOLDER, **(values or {}))
    return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], template)


def check_route_table(sp, c, d):
    spec = sp.spec
    s, _, body = c.call(d, "GET", "/api/v1/debug/routes", "admin", 200)
    listed = body.get("routes") if s == 200 and isinstance(body, dict) else []
    table = {(r["method"].lower(), r["path"]): r for r in listed or []}
    documented = {(m, p): op for p, m, op in operations(spec)}
    check("every route the daemon lists is in openapi.yaml",
          set(table) <= set(documented), sorted(set(table) - set(documented)))
    check("every operation of openapi.yaml is a route the daemon lists (HEAD aside: it is GET)",
          set(k for k in documented if k[0] != "head") <= set(table),
          sorted(set(documented) - set(table)))
    differ = []
    for k, r in table.items():
        op = documented.get(k)
        if op is None:
            continue
        if r.get("role") != op.get("x-haechi-role") or \
                r.get("action") != op.get("x-haechi-audit-action"):
            differ.append("%s %s: daemon role %r action %r, document %r %r"
                          % (k[0].upper(), k[1], r.get("role"), r.get("action"),
                             op.get("x-haechi-role"), op.get("x-haechi-audit-action")))
    check("each route's role and audit action are the document's", not differ, differ)

    # By plain HTTP, whatever the listing says.
    for path, m, op in operations(spec):
        url = concrete(path)
        if op.get("x-haechi-role"):
            c.call(d, m.upper(), url, None, 401,
                   name="%s %s reaches its handler (401 without a token)" % (m.upper(), path))
        else:
            c.call(d, m.upper(), url, None, None,
                   name="%s %s reaches its handler without a token" % (m.upper(), path))
            s, _, _ = h.http(d.url, m.upper(), url)
            check("%s %s is not the router's 404/405" % (m.upper(), path), s not in (404, 405),
                  "status %s" % s)
        if m == "get":
            s, _, _ = h.http(d.url, "HEAD", url, token=d.tokens["admin"])
            g, _, _ = h.http(d.url, "GET", url, token=d.tokens["admin"])
            check("HEAD %s is answered as its GET (%s)" % (path, g), s == g and s not in (405,),
                  "HEAD %s, GET %s" % (s, g))

    for path in sp.paths:
        allowed = sp.methods(path)
        for m in PROBE_METHODS:
            if m in allowed:
                continue
            _, hdrs, _ = c.call(d, m, concrete(path), "admin", 405,
                                name="%s %s -> 405 (documented: %s)" % (m, path,
                                                                         ", ".join(allowed)))
            got = sorted(x.strip() for x in (hdrs.get("Allow") or "").split(",") if x.strip())
            check("%s %s: Allow is the documented methods %s" % (m, path, allowed),
                  got == allowed, "Allow %r" % hdrs.get("Allow"))

    # Paths next to documented ones: one segment more, one fewer, one changed.
    probes = set()
    for path in sp.paths:
        segs = path.split("/")
        probes.add(concrete(path) + "/zz")
        probes.add(concrete("/".join(segs[:-1])) or "/")
        probes.add(concrete("/".join(segs[:-1] + ["zz"])))
        probes.add(concrete(path).replace("/api/v1/", "/api/v2/"))
    probes = sorted(p for p in probes if sp.template(p) is None)
    for p in probes:
        for m in ("GET", "POST"):
            c.call(d, m, p, "admin", 404, name="%s %s (not documented) -> 404" % (m, p))
    check("at least 10 undocumented neighbour paths were probed", len(probes) >= 10, probes)


def check_roles(sp, c, d):
    """401 and 403 for every operation, and the allowed roles get past auth."""
    for path, m, op in operations(sp.spec):
        roles = op.get("x-haechi-roles")
        if not roles:
            continue
        url = concrete(path)
        for role in ROLE_ORDER:
            if role in roles:
                s, _, _ = c.call(d, m.upper(), url, role,
                                 name="%s %s as %s gets past auth" % (m.upper(), path, role))
                check("%s %s as %s is neither 401 nor 403" % (m.upper(), path, role),
                      s not in (401, 403), "status %s" % s)
            else:
                c.call(d, m.upper(), url, role, 403)
        c.call(d, m.upper(), url, None, 401, authorization="Bearer not-a-known-token",
               name="%s %s with an unknown token -> 401" % (m.upper(), path))


# ---- scenarios ------------------------------------------------------------------


def campaigns_flow(c, d):
    jt = "application/json"
    body = lambda doc: h.campaign_json(doc)  # noqa: E731
    one = h.future_campaign("oa-one")
    c.call(d, "POST", "/api/v1/campaigns", "editor", 201, body=body(one), content_type=jt)
    c.call(d, "POST", "/api/v1/campaigns", "editor", 409, body=body(one), content_type=jt)
    c.call(d, "POST", "/api/v1/campaigns?replace=true", "admin", 200, body=body(one),
           content_type=jt)
    old = h.example_campaign()
    old["id"] = "oa-past"
    s, _, b = c.call(d, "POST", "/api/v1/campaigns", "editor", 201, body=body(old),
                     content_type=jt, name="POST a campaign whose window has passed -> 201")
    check("a past window is finished at once, with a past-window warning",
          s == 201 and b.get("status") == "finished" and
          any(w.get("rule") == "past-window" for w in b.get("warnings", [])), short(b))
    bad = copy.deepcopy(one)
    del bad["title"]
    bad["id"] = "oa-bad"
    c.call(d, "POST", "/api/v1/campaigns", "editor", 400, body=body(bad), content_type=jt)
    c.call(d, "POST", "/api/v1/campaigns", "editor", 400, body=b"{not json", content_type=jt,
           name="POST malformed JSON -> 400")
    c.call(d, "POST", "/api/v1/campaigns", "editor", 415, body=body(one),
           content_type="text/plain")
    big = copy.deepcopy(one)
    big["id"] = "oa-big"
    big["title"] = "x" * 100
    big_body = body(big) + b" " * (CAMPAIGN_LIMIT + 1000)
    c.call(d, "POST", "/api/v1/campaigns", "editor", 413, body=big_body, content_type=jt)

    c.call(d, "GET", "/api/v1/campaigns", "viewer", 200)
    s, _, b = c.call(d, "GET", "/api/v1/campaigns?limit=1", "viewer", 200)
    cursor = b.get("next_cursor") if s == 200 else None
    check("a page of one campaign names the next page", isinstance(cursor, str), short(b))
    if isinstance(cursor, str):
        c.call(d, "GET", "/api/v1/campaigns?limit=1&cursor=" + urllib.parse.quote(cursor),
               "viewer", 200, name="GET /api/v1/campaigns at the next cursor -> 200")
    c.call(d, "GET", "/api/v1/campaigns?limit=0", "viewer", 400)
    c.call(d, "GET", "/api/v1/campaigns?cursor=oa-never", "viewer", 400)
    c.call(d, "GET", "/api/v1/campaigns/oa-one", "viewer", 200)
    c.call(d, "GET", "/api/v1/campaigns/oa-one?version=1", "approver", 200)
    c.call(d, "GET", "/api/v1/campaigns/oa-one?version=7", "viewer", 404)
    c.call(d, "GET", "/api/v1/campaigns/oa-one?version=first", "viewer", 400)
    c.call(d, "GET", "/api/v1/campaigns/Not_A_Slug", "viewer", 400)
    c.call(d, "GET", "/api/v1/campaigns/" + "a" * 70, "viewer", 400,
           name="GET a 70-character id -> 400")
    c.call(d, "GET", "/api/v1/campaigns/oa-never", "viewer", 404)

    c.call(d, "PUT", "/api/v1/campaigns/oa-one", "editor", 200, body=body(one), content_type=jt)
    two = h.future_campaign("oa-two")
    c.call(d, "PUT", "/api/v1/campaigns/oa-two", "editor", 201, body=body(two), content_type=jt)
    c.call(d, "PUT", "/api/v1/campaigns/oa-other", "editor", 400, body=body(two),
           content_type=jt, name="PUT with another id in the body -> 400")
    c.call(d, "PUT", "/api/v1/campaigns/BAD", "editor", 400, body=body(two), content_type=jt)
    c.call(d, "PUT", "/api/v1/campaigns/oa-two", "editor", 415, body=body(two),
           content_type="text/plain")
    c.call(d, "PUT", "/api/v1/campaigns/oa-two", "editor", 413, body=big_body, content_type=jt)

    key = {"Idempotency-Key": "oa-pause-1"}
    _, _, first = c.call(d, "POST", "/api/v1/campaigns/oa-one/pause", "editor", 200, headers=key)
    _, hdrs, again = c.call(d, "POST", "/api/v1/campaigns/oa-one/pause", "editor", 200,
                            headers=key, name="pause retried with its Idempotency-Key -> 200")
    check("the retry replays the first outcome (Idempotent-Replayed: true, changed true)",
          hdrs.get("Idempotent-Replayed") == "true" and again == first and
          first.get("changed") is True, "%r %r" % (dict(hdrs), again))
    c.call(d, "POST", "/api/v1/campaigns/oa-one/pause", "editor", 200,
           name="pause a paused campaign -> 200 (changed false)")
    c.call(d, "POST", "/api/v1/campaigns/oa-one/pause", "editor", 400,
           headers={"Idempotency-Key": "not visible"},
           name="pause with a malformed Idempotency-Key -> 400")
    c.call(d, "POST", "/api/v1/campaigns/oa-one/resume", "editor", 200)
    c.call(d, "POST", "/api/v1/campaigns/oa-one/resume?catch_up=true", "admin", 200)
    c.call(d, "POST", "/api/v1/campaigns/oa-two/cancel", "editor", 200)
    c.call(d, "POST", "/api/v1/campaigns/oa-two/cancel", "editor", 200,
           name="cancel a cancelled campaign -> 200")
    for verb in ("pause", "resume"):
        c.call(d, "POST", "/api/v1/campaigns/oa-two/%s" % verb, "editor", 409)
    c.call(d, "POST", "/api/v1/campaigns/oa-past/cancel", "editor", 409)
    for verb in ("pause", "resume", "cancel"):
        c.call(d, "POST", "/api/v1/campaigns/oa-never/%s" % verb, "editor", 404)
        c.call(d, "POST", "/api/v1/campaigns/Bad-/%s" % verb, "editor", 400)
    c.call(d, "PUT", "/api/v1/campaigns/oa-two", "editor", 409, body=body(two), content_type=jt,
           name="PUT a cancelled campaign -> 409 cancelled")
    c.call(d, "POST", "/api/v1/campaigns?replace=yes", "editor", 409, body=body(two),
           content_type=jt, name="POST ?replace=yes of a cancelled campaign -> 409 cancelled")

    c.call(d, "GET", "/api/v1/campaigns/oa-one/releases", "viewer", 200)
    c.call(d, "GET", "/api/v1/campaigns/oa-one/releases?upcoming=2", "viewer", 200)
    c.call(d, "GET", "/api/v1/campaigns/oa-one/releases?upcoming=0", "viewer", 400)
    c.call(d, "GET", "/api/v1/campaigns/oa-one/releases?limit=1", "viewer", 200)
    c.call(d, "GET", "/api/v1/campaigns/oa-one/releases?cursor=x", "viewer", 400)
    c.call(d, "GET", "/api/v1/campaigns/oa-one?version=+1", "viewer", 400)
    c.call(d, "GET", "/api/v1/campaigns/oa-never/releases", "viewer", 404)
    c.call(d, "GET", "/api/v1/campaigns/X/releases", "viewer", 400)
    c.call(d, "POST", "/api/v1/campaigns/oa-one/releases/morning-post/send", "editor", 404)
    c.call(d, "POST", "/api/v1/campaigns/oa-one/releases/Bad_Release/send", "editor", 400)

    c.call(d, "GET", "/api/v1/audit", "admin", 200)
    c.call(d, "GET", "/api/v1/audit?count=3", "admin", 200)
    c.call(d, "GET", "/api/v1/audit?count=0", "admin", 400)
    c.call(d, "GET", "/api/v1/audit?count=1001", "admin", 400)

    c.call(d, "POST", "/api/v1/test/clock", "admin", 404, body={"advance_ms": 1},
           content_type=jt, name="POST /api/v1/test/clock without a virtual clock -> 404")
    c.call(d, "GET", "/healthz", None, 200)

    # Refusals on the wire answer as the document's Wire* responses.
    c.call(d, "BREW", "/api/v1/campaigns", "viewer", 501, name="an unknown method -> 501")
    c.call(d, "GET", "/healthz", None, 417, headers={"Expect": "tea"},
           name="Expect other than 100-continue -> 417")
    c.call(d, "GET", "/healthz", None, 431, headers={"X-Padding": "p" * 17000},
           name="a head over 16 KiB -> 431")


def engine_flow(c, d, redis):
    """Releases that fire, fail into a dead letter, expire and are sent by hand."""
    jt = "application/json"
    cid = "oa-engine"
    s, _, _ = c.call(d, "POST", "/api/v1/test/clock", "admin", 200, body={"now_ms": D(9, 50)},
                     content_type=jt)
    doc = h.minimal_campaign(cid, ["sns", "newsletter"], "2020-05-04", "2020-05-04",
                             [{"id": "go", "at": "2020-05-04T10:00",
                               "channels": ["sns", "newsletter"]},
                              {"id": "gap", "at": "2020-05-04T11:00", "channels": ["sns"]}])
    c.call(d, "POST", "/api/v1/campaigns", "editor", 201, body=h.campaign_json(doc),
           content_type=jt)
    redis.command("HSET", h.engine_key(d, "log:faults"), "newsletter", "fail")
    c.call(d, "GET", "/api/v1/campaigns/%s/releases" % cid, "viewer", 200,
           name="releases before any firing -> 200")
    c.call(d, "POST", "/api/v1/test/clock", "admin", 200, body={"advance_ms": 10 * 60 * 1000},
           content_type=jt)
    check("the 10:00 firing settles (sns sent, newsletter dead)",
          h.wait_engine_idle(redis, d, D(10, 0)), "engine not idle")
    dead = h.wait_until(lambda: (h.http(d.url, "GET", "/api/v1/dead", token=d.tokens["viewer"])
                                 [2] or {}).get("dead"))
    check("a dead letter is listed", dead, dead)
    c.call(d, "GET", "/api/v1/dead", "viewer", 200, name="GET /api/v1/dead with one -> 200")
    c.call(d, "GET", "/api/v1/dead?channel=newsletter", "viewer", 200)
    c.call(d, "GET", "/api/v1/dead?channel=fax", "viewer", 400)
    c.call(d, "GET", "/api/v1/reach", "viewer", 200)

    # Two hours on at once: the 11:00 firing is claimed 2 h late, past its 1 h expiry.
    c.call(d, "POST", "/api/v1/test/clock", "admin", 200,
           body={"advance_ms": 2 * 3600 * 1000 + 10 * 60 * 1000}, content_type=jt)

    def expired():
        s, _, b = h.http(d.url, "GET", "/api/v1/campaigns/%s/releases" % cid,
                         token=d.tokens["viewer"])
        return s == 200 and b.get("counts", {}).get("expired")
    check("the 11:00 firing is expired after the jump", h.wait_until(expired), "not expired")
    s, _, b = c.call(d, "GET", "/api/v1/campaigns/%s/releases" % cid, "viewer", 200,
                     name="releases with sent, dead and expired firings -> 200")
    states = sorted({ch.get("state") for f in (b.get("releases") or [])
                     for ch in f.get("channels", {}).values()}) if s == 200 else []
    check("the releases answer shows the states sent, dead and expired",
          {"sent", "dead", "expired"} <= set(states), states)
    c.call(d, "POST", "/api/v1/campaigns/%s/releases/gap/send" % cid, "editor", 200)
    c.call(d, "POST", "/api/v1/campaigns/%s/releases/gap/send" % cid, "editor", 404,
           name="send-now again: nothing expired left -> 404")

    redis.command("HDEL", h.engine_key(d, "log:faults"), "newsletter")
    c.call(d, "POST", "/api/v1/dead/retry", "editor", 200, body={"id": dead[0]["id"]},
           content_type=jt)
    c.call(d, "POST", "/api/v1/dead/retry", "editor", 200, body={"all": True, "channel": "sns"},
           content_type=jt)
    c.call(d, "POST", "/api/v1/dead/retry", "admin", 404, body={"id": "1-0"}, content_type=jt)
    c.call(d, "POST", "/api/v1/dead/retry", "editor", 400, body={"id": "nope"}, content_type=jt)
    c.call(d, "POST", "/api/v1/dead/retry", "editor", 400, body={"id": "1-0", "channel": "sns"},
           content_type=jt)
    c.call(d, "POST", "/api/v1/dead/retry", "editor", 400, body={"all": True, "colour": 1},
           content_type=jt)
    c.call(d, "POST", "/api/v1/dead/retry", "editor", 400, body={}, content_type=jt)
    c.call(d, "POST", "/api/v1/dead/retry", "editor", 400, body={"all": True, "channel": "fax"},
           content_type=jt)
    c.call(d, "POST", "/api/v1/dead/retry", "editor", 400, body=b"[1]", content_type=jt)
    c.call(d, "POST", "/api/v1/dead/retry", "editor", 415, body={"all": True},
           content_type="text/plain")
    c.call(d, "POST", "/api/v1/dead/retry", "editor", 413, body=b" " * 70000, content_type=jt)

    c.call(d, "POST", "/api/v1/test/clock", "admin", 400, body={"now_ms": D(9, 0)},
           content_type=jt, name="moving the clock back -> 400")
    c.call(d, "POST", "/api/v1/test/clock", "admin", 415, body={"advance_ms": 1},
           content_type="text/plain")
    c.call(d, "POST", "/api/v1/test/clock", "admin", 413, body=b" " * 70000, content_type=jt)


def audiences_flow(c, d):
    """An audience list imported with the CLI, read and changed through the API."""
    jt = "application/json"
    path = os.path.join(d.dir, "oa-fans.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("phone,name,city\n")
        for i in range(1200):
            f.write("010-0000-%04d,Fan %d,Seoul\n" % (i, i))
    p = h.cli(["audience", "import", "oa-fans", path, "--config", d.config_path])
    check("an audience list is imported for the audience routes", p.returncode == 0,
          p.stdout + p.stderr)
    base = "/api/v1/audiences/oa-fans"
    member = base + "/members/010-0000-0005"
    c.call(d, "GET", "/api/v1/audiences", "viewer", 200)
    c.call(d, "GET", "/api/v1/audiences?limit=0", "viewer", 400)
    c.call(d, "GET", base, "viewer", 200)
    c.call(d, "GET", "/api/v1/audiences/Not_Slug", "viewer", 400)
    c.call(d, "GET", base + "/members", "viewer", 200)
    c.call(d, "GET", base + "/members?page=1", "viewer", 200)
    c.call(d, "GET", base + "/members?page=9", "viewer", 404)
    c.call(d, "GET", base + "/members?page=-1", "viewer", 400)
    c.call(d, "GET", member, "viewer", 200)
    c.call(d, "GET", base + "/members/not-a-number", "viewer", 400)
    c.call(d, "GET", base + "/members/010-0999-0001", "viewer", 404)
    c.call(d, "PUT", member + "/status", "editor", 200,
           body={"status": "unsubscribed", "reason": "clicked"}, content_type=jt)
    c.call(d, "PUT", member + "/status", "editor", 400, body={"status": "gone"},
           content_type=jt)
    c.call(d, "PUT", base + "/members/010-0999-0001/status", "editor", 404,
           body={"status": "bounced"}, content_type=jt)
    c.call(d, "PUT", member + "/status", "editor", 415, body={"status": "active"},
           content_type="text/plain")
    c.call(d, "PUT", member + "/status", "editor", 413, body=b" " * 70000, content_type=jt)
    c.call(d, "GET", member, "viewer", 200, name="GET a member with a status -> 200")
    c.call(d, "DELETE", member, "editor", 200)
    c.call(d, "DELETE", base + "/members/nope", "editor", 400)
    c.call(d, "DELETE", base + "/members/010-0999-0001", "editor", 404)


def redis_down_flow(c, d, redis):
    """With Redis frozen, calls that wait on it time out (503 redis-timeout)."""
    redis.freeze()
    try:
        c.call(d, "GET", "/healthz", None, 503, name="GET /healthz with Redis frozen -> 503")
        c.call(d, "GET", "/api/v1/campaigns", "viewer", 503,
               name="GET /api/v1/campaigns with Redis frozen -> 503")
    finally:
        redis.thaw()
    redis.stop()
    c.call(d, "GET", "/healthz", None, 503, name="GET /healthz with Redis stopped -> 503")
    for path, m, op in operations(c.sp.spec):
        if "503" in op["responses"] and (path, m, "503") not in c.sp.seen and \
                m == "get" and "{" not in path:
            c.call(d, "GET", path, "admin", 503,
                   name="GET %s with Redis stopped -> 503" % path)


def check_coverage(sp):
    missing = []
    for path, m, op in operations(sp.spec):
        for status in op["responses"]:
            if status == "500":
                continue
            if status == "503" and "{" in path or status == "503" and m != "get":
                continue  # the same shared response as the GETs' (seen there)
            if (path, m, status) not in sp.seen:
                missing.append("%s %s %s" % (m.upper(), path, status))
    check("every documented status of every operation was seen in a real answer "
          "(500 aside; 503 on the GETs without path parameters)", not missing, missing)


def main():
    if yaml is None:
        check("python3-yaml and python3-jsonschema are installed", False, IMPORT_ERROR)
        return
    with open(SPEC_PATH, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    check_document(spec)
    sp = Spec(spec)

    redis = h.Redis("openapi-redis")
    daemons = []
    try:
        if not check("private redis-server answers PING", redis.start(), "see stderr"):
            return
        channels = {"sns": {"adapter": "log"}, "kakao": {"adapter": "log"},
                    "banner": {"adapter": "log"}, "alert": {"adapter": "log"},
                    "newsletter": {"adapter": "log", "faults_from_redis": True,
                                   "quiet_hours": False}}
        engine = h.Daemon("oa-engine", redis.address, extra={
            "environment": "test", "testing": {"virtual_clock": True}, "channels": channels})
        plain = h.Daemon("oa-plain", redis.address,
                         extra={"limits": {"max_campaign_bytes": CAMPAIGN_LIMIT}})
        daemons = [engine, plain]
        for d in daemons:
            if not check("haechi serve (%s) starts" % d.name, d.start(), "see stderr"):
                return
        c = Caller(sp, {"engine": engine, "plain": plain})
        check_route_table(sp, c, engine)
        check_roles(sp, c, engine)
        campaigns_flow(c, plain)
        engine_flow(c, engine, redis)
        audiences_flow(c, engine)
        redis_down_flow(c, plain, redis)
        check_coverage(sp)
    finally:
        for d in daemons:
            if d.process:
                status = d.stop()
                check("haechi serve (%s) exits 0 on SIGTERM" % d.name, status == 0,
                      "exit status %s" % status)
        redis.stop()


if __name__ == "__main__":
    h.run(main)
