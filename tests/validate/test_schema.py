#!/usr/bin/env python3
"""
test_schema.py - checks that campaigns/campaign.schema.json agrees with the
validator on the corpus of tests/validate (and campaigns/*.json).

  every valid example            the schema accepts it
  every invalid case             the schema rejects it, unless it is listed in
                                 schema-blind.txt, in which case the schema must
                                 ACCEPT it (when the schema learns to see one,
                                 its line must go)

The schema only ever sees parsed JSON. The cases that are not JSON at all
(syntax errors, invalid UTF-8, an empty file, a duplicate key) are listed in
schema-blind.txt like any other blind spot, with the reason "not JSON": this
test reads every document as haechi does (UTF-8, a leading byte order mark
ignored, duplicate keys and NaN refused) and counts a document it cannot read
as one the schema does not reject. So one rule holds for every invalid case:
rejected by the schema, or listed as blind, never both.

Uses python3-jsonschema (Draft202012Validator). Documents too big to commit
come from make_big.py. Prints one "ok NAME" or "not ok NAME: reason" per
case (details on stderr); exits 1 on a failure.
Environment: HAECHI_ROOT (default: two levels above this file).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.environ.get("HAECHI_ROOT") or os.path.join(HERE, "..", ".."))
CASES = os.path.join(ROOT, "tests", "validate")
SCHEMA = os.path.join(ROOT, "campaigns", "campaign.schema.json")

sys.path.insert(0, CASES)
import make_big  # noqa: E402
import test_corpus  # noqa: E402  (shares its list of campaign files)

try:
    import jsonschema
except ImportError:
    print("not ok setup: python3-jsonschema is not installed (apt-get install python3-jsonschema)")
    sys.exit(1)


def log(*args):
    print(*args, file=sys.stderr)


class NotJSON(Exception):
    pass


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise NotJSON("duplicate key %r" % key)
        seen[key] = value
    return seen


def _no_constant(name):
    raise NotJSON("%s is not JSON" % name)


def parse(data):
    """The document as haechi reads it, or NotJSON."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise NotJSON("invalid UTF-8: %s" % e)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except ValueError as e:
        raise NotJSON(str(e))


def read_blind(path):
    """NAME: reason lines; lines starting with '#' are comments."""
    entries = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, why = line.partition(":")
            if not sep or not why.strip():
                raise ValueError("%s:%d: expected \"NN-name: why\"" % (path, n))
            entries[name.strip()] = why.strip()
    return entries


def collect():
    """(name, bytes-producing function, want_valid)."""
    def reader(path):
        def read():
            with open(path, "rb") as f:
                return f.read()
        return read

    cases = []
    for path in test_corpus.campaign_files():
        cases.append(("campaigns/" + os.path.basename(path)[:-5], reader(path), True))
    d = os.path.join(CASES, "valid")
    for f in sorted(os.listdir(d)):
        if f.endswith(".json"):
            cases.append(("valid/" + f[:-5], reader(os.path.join(d, f)), True))
    d = os.path.join(CASES, "invalid")
    for f in sorted(os.listdir(d)):
        if f.endswith(".json"):
            cases.append(("invalid/" + f[:-5], reader(os.path.join(d, f)), False))
    for name in sorted(make_big.GENERATED):
        cases.append((name, make_big.GENERATED[name], name.startswith("valid/")))
    return cases


def main():
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        print("not ok schema: %s is not a valid draft 2020-12 schema: %s"
              % (os.path.relpath(SCHEMA, ROOT), e.message))
        return 1
    print("ok schema")
    validator = jsonschema.Draft202012Validator(schema)
    blind = {"invalid/" + k: v for k, v in read_blind(os.path.join(CASES, "schema-blind.txt")).items()}

    failed = 0
    seen = set()
    for name, read, want_valid in collect():
        seen.add(name)
        short = name.split("/", 1)[1]
        try:
            doc = parse(read())
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
            unreadable = None
        except NotJSON as e:
            errors, unreadable = [], str(e)
        first = ""
        if errors:
            e = errors[0]
            first = "/" + "/".join(str(p) for p in e.absolute_path) + ": " + e.message
            if len(first) > 160:
                first = first[:157] + "..."
        if want_valid:
            reason = None
            if unreadable:
                reason = "not readable as JSON: %s" % unreadable
            elif errors:
                reason = "the schema rejects it (%s)" % first
        elif name in blind:
            reason = None
            if errors:
                reason = ("listed in schema-blind.txt, but the schema rejects it now (%s): "
                          "remove its line" % first)
        else:
            reason = None
            if unreadable:
                reason = ("not JSON (%s): list it in schema-blind.txt as \"%s: not JSON\""
                          % (unreadable, short))
            elif not errors:
                reason = ("the schema accepts it: tighten the schema, or list it in "
                          "schema-blind.txt with the reason")
        if reason:
            print("not ok %s: %s" % (name, reason))
            failed += 1
        else:
            print("ok %s" % name)
            if errors:
                log("%s: %s" % (name, first))
    for name in sorted(set(blind) - seen):
        print("not ok %s: listed in schema-blind.txt but there is no such case" % name)
        failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
