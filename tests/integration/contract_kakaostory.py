"""The Kakao Story adapter's entry in the contract suite
(tests/integration/test_contract.py): how to run the suite's scenarios
against adapters/kakaostory.c and its stand-in (tests/fakes/fake_kakaostory.c).

api_posting is "on" (the default), so that the scenarios run the whole
path: the account check, the link scrap, the link post, the look-up of
recent stories after an unknown outcome. The campaigns of the suite carry
the example's link, so the post is POST /v1/api/story/post/link.

The Story API reports no friend or follower count: reach is the section's
configured `followers` figure. Kakao's quota answer (-10) has no
Retry-After, so the wait is the section's quota_wait_s. Kakao's user
tokens are not refreshed here: an expired token is a dead letter naming
the credential to renew.
"""

TOKEN = "kakao-user-token-1"
FOLLOWERS = 180000
QUOTA_WAIT_S = 2

CASE = {
    "adapter": "kakaostory",
    "fake": "kakaostory",
    "fake_args": ["--token", TOKEN],
    "section": lambda fake, tmp: {
        "url": fake.url,
        "token_env": "HAECHI_TEST_KAKAOSTORY_TOKEN",
        "api_posting": "on",
        "followers": FOLLOWERS,
        "quota_wait_s": QUOTA_WAIT_S,
        "lookup_minutes": 10,
    },
    "env": {"HAECHI_TEST_KAKAOSTORY_TOKEN": TOKEN},
    "post_route": ("POST", "/v1/api/story/post/link"),
    "insights": False,  # the Story API reports no figures of a post
    "followers": FOLLOWERS,
    "rate_limit_wait_ms": QUOTA_WAIT_S * 1000,
    # fault -> a fragment of the dead letter's reason (adapters/kakaostory.c, rules[]).
    "permanent": [
        ("error:invalid", "Kakao -2"),
        ("error:not-enabled", "Kakao -3"),
        ("error:blocked", "Kakao -4"),
        ("error:no-permission", "Kakao -5"),
        ("error:scope", "Kakao -402"),
        ("error:not-story-user", "the account has no Kakao Story"),
    ],
    "expired_token": "fail",
    "tokens": [TOKEN],
}
