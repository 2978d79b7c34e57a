#!/usr/bin/env python3
"""
test_corpus.py - runs `haechi validate` over the campaign corpus.

  valid/*.json, campaigns/*.json   must be accepted: exit 0 (campaigns/ files
                                   count when their "$schema" names
                                   campaign.schema.json)
  invalid/NN-name.json             must be refused: exit 1, and stdout must be
                                   exactly invalid/NN-name.expected, one
                                   "JSON-POINTER: message" line per error
  generated cases (make_big.py)    the same, for documents too big to commit

Every case is also run with --json, which must agree with the text: the same
"valid" verdict and the same errors (path and message) in the same order, and,
for a valid file, as many warnings as the text printed.

Limits are pinned to their defaults (1 MiB, 10,000 firings) through a
temporary config in HAECHI_CONFIG, so that a machine's /etc/haechi/haechi.json
cannot change the answers.

Environment: HAECHI_ROOT (default: two levels above this file) and HAECHI_BIN
(default: build/test/haechi under HAECHI_ROOT).
Prints one "ok NAME" or "not ok NAME: reason" per case; exits 1 on a failure.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.environ.get("HAECHI_ROOT") or os.path.join(HERE, "..", ".."))
BIN = os.environ.get("HAECHI_BIN") or "build/test/haechi"
if not os.path.isabs(BIN):
    BIN = os.path.join(ROOT, BIN)
CASES = os.path.join(ROOT, "tests", "validate")

sys.path.insert(0, CASES)
import make_big  # noqa: E402

SANITIZER_MARKS = ("runtime error:", "AddressSanitizer", "LeakSanitizer")
TIMEOUT = 120


def log(*args):
    print(*args, file=sys.stderr)


def run(args, env):
    p = subprocess.run([BIN] + args, capture_output=True, env=env, timeout=TIMEOUT)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def first_difference(got, want):
    g, w = got.splitlines(), want.splitlines()
    for i in range(max(len(g), len(w))):
        a = g[i] if i < len(g) else "(no line)"
        b = w[i] if i < len(w) else "(no line)"
        if a != b:
            return "line %d: got %r, want %r" % (i + 1, a, b)
    return "trailing newline differs"


def sanitizer_report(stderr):
    return any(mark in stderr for mark in SANITIZER_MARKS)


def check_json(path, env, want_valid, text_out):
    """The --json answer agrees with the text answer; returns a reason or None."""
    rc, out, err = run(["validate", "--json", path], env)
    if sanitizer_report(err):
        return "--json: sanitizer report on stderr"
    if rc != (0 if want_valid else 1):
        return "--json: exit status %d" % rc
    try:
        answer = json.loads(out)
    except ValueError as e:
        return "--json: output is not JSON (%s)" % e
    if answer.get("valid") is not want_valid:
        return "--json: valid is %r" % answer.get("valid")
    errors, warnings = answer.get("errors"), answer.get("warnings")
    if not isinstance(errors, list) or not isinstance(warnings, list):
        return "--json: errors or warnings is not a list"
    if want_valid:
        if errors:
            return "--json: %d errors for a valid file" % len(errors)
        if not isinstance(answer.get("summary"), dict):
            return "--json: no summary"
        shown = [l for l in text_out.splitlines() if l.startswith("warning: ")]
        if len(shown) != len(warnings):
            return "--json: %d warnings, the text shows %d" % (len(warnings), len(shown))
        return None
    lines = text_out.splitlines()
    if len(errors) != len(lines):
        return "--json: %d errors, the text shows %d" % (len(errors), len(lines))
    for i, e in enumerate(errors):
        as_text = "%s: %s" % (e.get("path") or "/", e.get("message"))
        if as_text != lines[i]:
            return "--json: error %d reads %r, the text %r" % (i + 1, as_text, lines[i])
        if not e.get("rule"):
            return "--json: error %d has no rule" % (i + 1)
    return None


def check_case(path, want_valid, expected, env):
    """Returns None when the case passes, else a short reason."""
    rc, out, err = run(["validate", path], env)
    if sanitizer_report(err):
        log(err)
        return "sanitizer report on stderr"
    if want_valid:
        if rc != 0:
            first = out.splitlines()[0] if out else err.strip()
            return "exit status %d, want 0 (%s)" % (rc, first)
    else:
        if rc != 1:
            last = err.strip().splitlines()[-1] if err.strip() else "no message"
            return "exit status %d, want 1 (%s)" % (rc, last)
        if out != expected:
            log("--- got\n" + out + "--- want\n" + expected)
            return first_difference(out, expected)
    return check_json(path, env, want_valid, out)


def campaign_files():
    """campaigns/*.json that declare the campaign schema in "$schema" (other
    files there, such as the schema itself, are not campaigns)."""
    d = os.path.join(ROOT, "campaigns")
    found = []
    for f in sorted(os.listdir(d)):
        if not f.endswith(".json") or f.endswith(".schema.json"):
            continue
        try:
            with open(os.path.join(d, f), encoding="utf-8-sig") as fp:
                marker = json.load(fp).get("$schema", "")
        except (ValueError, AttributeError):
            marker = "campaign.schema.json"  # unreadable: let haechi say why
        if isinstance(marker, str) and marker.endswith("campaign.schema.json"):
            found.append(os.path.join(d, f))
    return found


def collect():
    """(name, path or None, generated name or None, want_valid, expected)."""
    cases = []
    for path in campaign_files():
        name = "campaigns/" + os.path.basename(path)[:-5]
        cases.append((name, path, None, True, None))
    d = os.path.join(CASES, "valid")
    for f in sorted(os.listdir(d)):
        if f.endswith(".json"):
            cases.append(("valid/" + f[:-5], os.path.join(d, f), None, True, None))
    for name in sorted(n for n in make_big.GENERATED if n.startswith("valid/")):
        cases.append((name, None, name, True, None))
    d = os.path.join(CASES, "invalid")
    stems = sorted({f.rsplit(".", 1)[0] for f in os.listdir(d)
                    if f.endswith(".json") or f.endswith(".expected")})
    for stem in stems:
        name = "invalid/" + stem
        js, ex = os.path.join(d, stem + ".json"), os.path.join(d, stem + ".expected")
        expected = None
        if os.path.exists(ex):
            with open(ex, encoding="utf-8") as f:
                expected = f.read()
        gen = name if name in make_big.GENERATED else None
        cases.append((name, js if os.path.exists(js) else None, gen, False, expected))
    return cases


def main():
    if not os.access(BIN, os.X_OK):
        print("not ok setup: %s is not an executable (build it with make %s)"
              % (BIN, os.path.relpath(BIN, ROOT)))
        return 1
    failed = 0
    with tempfile.TemporaryDirectory(prefix="haechi-corpus.") as tmp:
        config = os.path.join(tmp, "haechi.json")
        with open(config, "w") as f:
            json.dump({"limits": {"max_campaign_bytes": 1048576, "max_occurrences": 10000}}, f)
        env = dict(os.environ, HAECHI_CONFIG=config)
        for name, path, gen, want_valid, expected in collect():
            reason = None
            if gen:
                if path:
                    reason = "both committed and generated by make_big.py"
                else:
                    path = os.path.join(tmp, name.replace("/", "-") + ".json")
                    with open(path, "wb") as f:
                        f.write(make_big.GENERATED[gen]())
            elif not path:
                reason = "has a .expected file but no .json, and make_big.py does not build it"
            if not reason and not want_valid and expected is None:
                reason = "has no .expected file"
            if not reason:
                try:
                    reason = check_case(path, want_valid, expected, env)
                except subprocess.TimeoutExpired:
                    reason = "timed out after %d s" % TIMEOUT
            if reason:
                print("not ok %s: %s" % (name, reason))
                failed += 1
            else:
                print("ok %s" % name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
