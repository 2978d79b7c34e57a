#!/usr/bin/env python3
"""
make_big.py - builds the corpus documents that are too big to commit.

A campaign file may be at most 1 MiB (limits.max_campaign_bytes, default
1,048,576 bytes) and hold at most 1,000 releases. These cases sit on those
limits, so they are built here, byte for byte the same on every run, instead
of being committed:

  valid/generated-exactly-1mib          1,048,576 bytes: accepted
  invalid/39-document-over-1mib         1,048,577 bytes: refused for its size
  invalid/69-too-many-releases          1,001 releases: refused

The big ones are what a spreadsheet export looks like: one row per release,
each with a long note. test_corpus.py and test_schema.py import GENERATED;
`python3 make_big.py DIR` writes the files into DIR to look at.
"""
import json
import os
import sys

LIMIT = 1024 * 1024


def _campaign(releases):
    return {
        "id": "screening-centres-2020",
        "title": "자치구 선별진료소 운영 안내 (일괄 입력)",
        "owner": "서울특별시 시민건강국 감염병관리과",
        "message": {
            "headline": {"ko": "가까운 선별진료소 운영 시간을 확인하세요"},
            "body": {"ko": "발열이나 호흡기 증상이 있으면 먼저 120 또는 1339로 상담하고, "
                           "가까운 선별진료소를 방문하세요."},
            "link": "https://www.seoul.go.kr/",
        },
        "schedule": {
            "timezone": "Asia/Seoul",
            "start": "2020-03-01",
            "end": "2020-05-31",
            "releases": releases,
        },
        "sns": {"networks": ["facebook", "x"]},
        "kakao": {"list": "seoul-friends", "type": "friendtalk", "ad": False},
    }


def _at(hour):
    """The hour-th hour after 2020-03-01T00:00, as a local date-time."""
    days, h = divmod(hour, 24)
    month, day = 3, 1 + days
    for length in (31, 30, 31):  # March, April, May
        if day <= length:
            break
        day -= length
        month += 1
    return "2020-%02d-%02dT%02d:00" % (month, day, h)


def _note(i, chars):
    text = ("%d번째 게시분: 자치구별 선별진료소 운영 시간과 주말 운영 여부, 검사 대상과 "
            "예약 방법, 대중교통 이용 안내를 담은 카드뉴스입니다. " % (i + 1))
    return (text * (chars // len(text) + 1))[:chars]


_FILL = "선별진료소운영시간안내"


def _dump(doc):
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def sized(total):
    """A valid-shaped campaign of 1,000 releases, exactly TOTAL bytes long."""
    def build(note_chars, last_note):
        rel = []
        for i in range(1000):
            note = last_note if i == 999 else _note(i, note_chars)
            rel.append({"id": "post-%04d" % (i + 1), "at": _at(i),
                        "channels": ["sns" if i % 2 == 0 else "kakao"], "note": note})
        return _dump(_campaign(rel))

    # The longest common note that leaves room (found by bisection); the last
    # note fills the rest: 3 bytes a Hangul syllable, 1 byte a '.', and at
    # most 500 characters.
    lo, hi = 0, 500
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(build(mid, "")) <= total:
            lo = mid
        else:
            hi = mid - 1
    rest = total - len(build(lo, ""))
    hangul, dots = divmod(rest, 3)
    if hangul + dots > 500:
        raise ValueError("cannot reach %d bytes" % total)
    data = build(lo, (_FILL * (hangul // len(_FILL) + 1))[:hangul] + "." * dots)
    assert len(data) == total, (len(data), total)
    return data


def too_many_releases():
    rel = [{"at": _at(i), "channels": ["sns"]} for i in range(1001)]
    return _dump(_campaign(rel))


GENERATED = {
    "valid/generated-exactly-1mib": lambda: sized(LIMIT),
    "invalid/39-document-over-1mib": lambda: sized(LIMIT + 1),
    "invalid/69-too-many-releases": too_many_releases,
}


def main(argv):
    if len(argv) != 2:
        print("usage: make_big.py DIR", file=sys.stderr)
        return 2
    for name, build in GENERATED.items():
        path = os.path.join(argv[1], name.replace("/", "-") + ".json")
        with open(path, "wb") as f:
            f.write(build())
        print(path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
