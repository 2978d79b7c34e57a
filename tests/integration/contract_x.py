"""The X adapter's entry in the contract suite (tests/integration/test_contract.py):
how to run the suite's scenarios against adapters/x.c and its stand-in
(tests/fakes/fake_x.c, shared/CHANNELS.md §1).

The daemon starts with the stand-in's access token and its seed refresh
token; an expired token is refreshed (the stand-in rotates the refresh
token), so "expired_token" is "refresh": the send still succeeds.
"""

CLIENT_ID = "haechi-contract"
ACCESS = "x-access-1"
REFRESH = "x-refresh-1"

CASE = {
    "adapter": "x",
    "fake": "x",
    "fake_args": ["--token", ACCESS, "--refresh-token", REFRESH, "--client-id", CLIENT_ID],
    "section": lambda fake, tmp: {
        "url": fake.url,
        "token_url": fake.url + "/2/oauth2/token",
        "client_id": CLIENT_ID,
        "token_env": "HAECHI_TEST_X_TOKEN",
        "refresh_token_env": "HAECHI_TEST_X_REFRESH",
        "lookup_minutes": 10,
    },
    "env": {"HAECHI_TEST_X_TOKEN": ACCESS, "HAECHI_TEST_X_REFRESH": REFRESH},
    "post_route": ("POST", "/2/tweets"),
    "followers": 230000,
    # fault -> a fragment of the dead letter's reason (adapters/x.c, answers[]).
    "permanent": [
        ("error:invalid", "invalid request"),
        ("error:duplicate", "duplicate"),
        ("error:unsupported-auth", "app-only token"),
        ("error:overlength", "too long"),
    ],
    "expired_token": "refresh",
}
