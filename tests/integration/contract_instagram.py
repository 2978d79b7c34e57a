"""The instagram adapter's entry in the contract suite
(tests/integration/test_contract.py): how to run the suite's scenarios
against adapters/instagram.c and its stand-in (tests/fakes/fake_instagram.c,
shared/CHANNELS.md §3).

A post is a container (POST /{ig}/media), its status read, then
POST /{ig}/media_publish: the publish is what makes the post, so it is the
route counted. The token cannot be refreshed by the adapter: an expired one
is a dead letter (Graph 190/463). The campaign needs an image (sns.image or
message.image); the example campaign has one.
"""

TOKEN = "ig-token-1"
IG = "17841400000000001"

CASE = {
    "adapter": "instagram",
    "fake": "instagram",
    "fake_args": ["--token", TOKEN, "--ig-user-id", IG],
    "section": lambda fake, tmp: {
        "url": fake.url,
        "ig_user_id": IG,
        "token_env": "HAECHI_TEST_IG_TOKEN",
        "lookup_minutes": 10,
        "poll_interval_ms": 200,
        "poll_max": 25,
        "usage_backoff_s": 3,
    },
    # Graph's throttling waits are whole minutes (an injected one says 1).
    "rate_limit_wait_ms": 60000,
    "env": {"HAECHI_TEST_IG_TOKEN": TOKEN},
    "post_route": ("POST", "/%s/media_publish" % IG),
    "followers": 280000,
    # fault -> a fragment of the dead letter's reason (adapters/graph.c,
    # graph_instagram_rules[]).
    "permanent": [
        ("error:spam", "Graph 4/2207051"),
        ("error:restricted", "Graph 25/2207050"),
        ("error:caption", "Graph 36004/2207010"),
        ("error:image", "Graph 9004/2207052"),
    ],
    "expired_token": "fail",
    # given back to the stand-in after the expired-token scenario
    "tokens": [TOKEN],
    "expired_reason": "Graph 190/463",
    # A full publishing quota holds the item (not a failure): the stand-in
    # with --quota-total 0 and the reason's start.
    "held": (["--quota-total", "0"], "instagram: publishing quota 0/0 in 24 h; waiting until"),
}
