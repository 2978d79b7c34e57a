"""The facebook adapter's entry in the contract suite
(tests/integration/test_contract.py): how to run the suite's scenarios
against adapters/facebook.c and its stand-in (tests/fakes/fake_facebook.c,
shared/CHANNELS.md §2).

A page token cannot be refreshed by the adapter: an expired one (Graph
190/463) is a dead letter whose reason says which config field takes a new
one, so "expired_token" is "fail". Graph's throttling waits are in whole
minutes; an injected "rate-limit" of less than a minute says 0 and the
adapter waits usage_backoff_s (3 s here), the configured backoff.
"""

TOKEN = "fb-page-token-1"
PAGE = "104000000000001"

CASE = {
    "adapter": "facebook",
    "fake": "facebook",
    "fake_args": ["--token", TOKEN, "--page-id", PAGE],
    "section": lambda fake, tmp: {
        "url": fake.url,
        "page_id": PAGE,
        "token_env": "HAECHI_TEST_FB_TOKEN",
        "lookup_minutes": 10,
        "usage_backoff_s": 3,
    },
    # Graph's throttling waits are whole minutes (an injected one says 1).
    "rate_limit_wait_ms": 60000,
    "env": {"HAECHI_TEST_FB_TOKEN": TOKEN},
    "post_route": ("POST", "/%s/feed" % PAGE),
    "followers": 360000,
    # fault -> a fragment of the dead letter's reason (adapters/graph.c, graph_rules[]).
    "permanent": [
        ("error:policy", "Graph 368"),
        ("error:duplicate", "Graph 506"),
        ("error:permission", "Graph 200"),
        ("error:invalid", "Graph 100"),
        ("error:link", "Graph 1609005"),
    ],
    "expired_token": "fail",
    # given back to the stand-in after the expired-token scenario
    "tokens": [TOKEN],
    "expired_reason": "Graph 190/463",
}
