"""Audience CSV files for the tests and the benchmarks (standard library only).

A file of N members, written row by row (a 10-million-member file needs no
more memory than a 10-member one), with what was written returned so that a
test can check an import's report exactly:

    import audience_gen
    info = audience_gen.write(path, 350000, bad=20, dups=5)
    info["members"]        # 350000: distinct members an import must keep
    info["bad"]            # [{"line": 1234, "kind": "short", "reason": "..."}]
    info["dups"]           # [{"line": 5678, "first_line": 12, "id": "+8210..."}]

Member i (from 0) has the clearly fake number 010-0xxx-xxxx
("010-%04d-%04d" % (i // 10000, i % 10000), E.164 "+8210%04d%04d"), or the
address citizen0000001@example.com on an e-mail list; the name 시민0001
(i + 1, four digits at least); the language ko, en for every tenth; a
district from Seoul's 25 gu in turn.

Rows that an import must refuse (bad=K) come between the members, spread
over the file; each one's "reason" is a part of the reason the importer
gives (docs/audiences.md). Duplicates (dups=K) repeat an earlier member in
another spelling of the same number or address. Neither takes a member's
place: the file always holds members 0 .. N-1.

Command line: python3 audience_gen.py OUT.csv N [--bad K] [--dups K]
[--email] [--custom a,b] [--status] [--crlf] [--bom] prints the summary as
JSON (without the lists of lines unless --lines).
"""

import argparse
import csv
import json
import sys

DISTRICTS = (
    "종로구", "중구", "용산구", "성동구", "광진구", "동대문구", "중랑구", "성북구", "강북구",
    "도봉구", "노원구", "은평구", "서대문구", "마포구", "양천구", "강서구", "구로구", "금천구",
    "영등포구", "동작구", "관악구", "서초구", "강남구", "송파구", "강동구",
)

# Members whose status column says other than active (with status=True):
# every EVERY-th member, the first rule that matches wins.
STATUS_EVERY = (("unsubscribed", 50), ("blocked", 97), ("bounced", 211), ("suppressed", 503))

# The kinds of bad rows, in turn: (kind, a part of the importer's reason).
BAD_PHONE = (
    ("short", "phone: 7 digits after 010, 8 needed"),
    ("landline", "phone: not a mobile number: 02 is a landline area code"),
    ("letters", "phone: a letter at character"),
    ("cells", "cells, the header has"),
    ("empty", "phone: empty"),
)
BAD_EMAIL = (
    ("no-at", "email: no '@'"),
    ("no-dot", "email: the domain has no dot"),
    ("two-dots", "email: two dots in a row before the '@'"),
    ("cells", "cells, the header has"),
    ("empty", "email: empty"),
)


def phone_text(i):
    """Member i's number as a person writes it: 010-0000-0001."""
    return "010-%04d-%04d" % (i // 10000, i % 10000)


def phone_id(i):
    """Member i's number as the store keeps it: +821000000001."""
    return "+8210%04d%04d" % (i // 10000, i % 10000)


def email_text(i):
    return "citizen%07d@example.com" % i


def member_id(i, email=False):
    return email_text(i) if email else phone_id(i)


def number(i):
    """Member i's id on a phone list (E.164)."""
    return phone_id(i)


def domestic(e164):
    """"+821000000001" -> "01000000001", the number as a Korean dealer takes it."""
    return "0" + e164[3:] if e164.startswith("+82") else e164


def ids(info):
    """Every member id a write() put in its file, in file order."""
    first = info.get("offset", 0)
    return [member_id(i, info["kind"] == "email") for i in range(first, first + info["members"])]


def name_of(i):
    return "시민%04d" % (i + 1)


def lang_of(i):
    return "en" if i % 10 == 9 else "ko"


def district_of(i):
    return DISTRICTS[i % len(DISTRICTS)]


def status_of(i):
    for status, every in STATUS_EVERY:
        if i % every == every - 1:
            return status
    return "active"


def _bad_cells(k, kind, email, ncols):
    """Bad row number k (from 0) of KIND: its cells."""
    if email:
        ident = {
            "no-at": "bad%05d.example.com" % k,
            "no-dot": "bad%05d@localhost" % k,
            "two-dots": "bad..%05d@example.com" % k,
            "cells": "bad%05d@example.com" % k,
            "empty": "",
        }[kind]
    else:
        ident = {
            "short": "010-0%03d-567" % (k % 1000),
            "landline": "02-%03d-%04d" % (k % 1000, k % 10000),
            "letters": "010-0%03d-ABCD" % (k % 1000),
            "cells": "010-0000-%04d" % (k % 10000),
            "empty": "",
        }[kind]
    cells = [ident, "불량%04d" % k, "ko"] + [""] * (ncols - 3)
    if kind == "cells":
        cells.append("one too many")
    return cells


def _dup_spelling(i, email):
    """Another spelling of member i's id that normalises to the same."""
    if email:
        local, _, domain = email_text(i).partition("@")
        return "%s@%s" % (local, domain.upper())
    return "+82 10-%04d-%04d" % (i // 10000, i % 10000)


def _spread(count, n):
    """After which member each of COUNT extra rows goes: evenly over N."""
    after = {}
    for k in range(count):
        at = (k + 1) * n // (count + 1) if n else 0
        at = min(max(at, 0), max(n - 1, 0))
        after.setdefault(at, []).append(k)
    return after


def write(path, n, bad=0, dups=0, email=False, custom=(), status=False, crlf=False, bom=False,
          offset=0):
    """Writes N members to PATH (plus BAD refused rows and DUPS duplicates)
    and returns what it wrote (see the module's docstring). OFFSET: the
    first member's number (members OFFSET .. OFFSET+N-1), for a later
    version of a list that drops some members and adds others."""
    if n < 0 or bad < 0 or dups < 0:
        raise ValueError("n, bad and dups are counts")
    if dups and n == 0:
        raise ValueError("duplicates need a member to repeat")
    header = ["email" if email else "phone", "name", "lang", "district"] + list(custom)
    if status:
        header.append("status")
    kinds = BAD_EMAIL if email else BAD_PHONE
    bad_after, dup_after = _spread(bad, n), _spread(dups, n)
    info = {
        "path": path, "kind": "email" if email else "phone", "header": header,
        "members": n, "offset": offset, "rows": 0, "lines": 1, "bad": [], "dups": [],
        "statuses": {s: 0 for s in ("active",) + tuple(s for s, _ in STATUS_EVERY)},
    }
    if not status:
        info["statuses"] = {"active": n}

    def line_of_member(j):
        extra = sum(len(v) for a, v in bad_after.items() if a < j)
        return 2 + j + extra + sum(len(v) for a, v in dup_after.items() if a < j)

    with open(path, "w", encoding="utf-8", newline="") as f:
        if bom:
            f.write("\ufeff")
        out = csv.writer(f, lineterminator="\r\n" if crlf else "\n")
        out.writerow(header)
        line = 1
        for i in range(offset, offset + n):
            row = [email_text(i) if email else phone_text(i), name_of(i), lang_of(i),
                   district_of(i)]
            row += ["%s-%d" % (c, i) for c in custom]
            if status:
                row.append(status_of(i))
                info["statuses"][status_of(i)] += 1
            out.writerow(row)
            line += 1
            for k in bad_after.get(i - offset, ()):
                kind, reason = kinds[k % len(kinds)]
                out.writerow(_bad_cells(k, kind, email, len(header)))
                line += 1
                info["bad"].append({"line": line, "kind": kind, "reason": reason})
            for k in dup_after.get(i - offset, ()):
                j = offset + (i - offset) // 2  # an earlier member (or this one, at the start)
                cells = [_dup_spelling(j, email), name_of(j), lang_of(j), district_of(j)]
                cells += ["%s-%d" % (c, j) for c in custom]
                if status:
                    cells.append(status_of(j))
                out.writerow(cells)
                line += 1
                info["dups"].append({"line": line, "first_line": line_of_member(j - offset),
                                     "id": member_id(j, email)})
        info["lines"] = line
        info["rows"] = line - 1
    if n:
        info["first_id"] = member_id(offset, email)
        info["last_id"] = member_id(offset + n - 1, email)
    return info


def main(argv=None):
    p = argparse.ArgumentParser(description="Writes an audience CSV of N fake members.")
    p.add_argument("out")
    p.add_argument("n", type=int)
    p.add_argument("--bad", type=int, default=0, help="rows an import must refuse")
    p.add_argument("--dups", type=int, default=0, help="members repeated in another spelling")
    p.add_argument("--email", action="store_true", help="an e-mail list instead of phones")
    p.add_argument("--custom", default="", help="extra columns, comma-separated (a-z0-9_)")
    p.add_argument("--status", action="store_true", help="add a status column")
    p.add_argument("--crlf", action="store_true", help="end lines with CRLF")
    p.add_argument("--bom", action="store_true", help="start with a UTF-8 byte order mark")
    p.add_argument("--lines", action="store_true", help="list the bad and duplicate lines too")
    a = p.parse_args(argv)
    custom = [c for c in a.custom.split(",") if c]
    info = write(a.out, a.n, bad=a.bad, dups=a.dups, email=a.email, custom=custom,
                 status=a.status, crlf=a.crlf, bom=a.bom)
    if not a.lines:
        info["bad"], info["dups"] = len(info["bad"]), len(info["dups"])
    json.dump(info, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
