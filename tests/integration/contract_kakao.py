"""The kakao adapter's entry in the contract suite
(tests/integration/test_contract.py, its part for list channels): how to run
the suite's scenarios against adapters/kakao.c and the dealer stand-in
(tests/fakes/fake_kakao.c).

A list channel's release goes to every active member of an audience list,
in batches of 1,000 recipients, one dealer request each: the scenarios count
recipients (the stand-in's per-release counts), not posts. Its credential is
an app key and a secret that never expire, so the expired-token case of the
networks becomes a refused secret: a dead letter naming the config field.
"""

APPKEY = "haechi-contract-appkey"
SECRET = "haechi-contract-secret"
SENDER_KEY = "0123456789abcdef0123456789abcdef01234567"

CASE = {
    "kind": "list",
    "adapter": "kakao",
    "channel": "kakao",
    "fake": "kakao",
    "fake_args": ["--appkey", APPKEY, "--secret", SECRET, "--sender-key", SENDER_KEY,
                  "--template", "JAMSI_NOTICE=[서울시] #{name}님, 잠시멈춤에 함께해 주세요. #{district} 선별진료소 안내: 120"],
    "section": lambda fake, tmp: {
        "url": fake.url,
        "appkey": APPKEY,
        "secret_env": "HAECHI_TEST_KAKAO_SECRET",
        "sender_key": SENDER_KEY,
    },
    "env": {"HAECHI_TEST_KAKAO_SECRET": SECRET},
    "post_route": ("POST", "/friendtalk/v2.3/appkeys/:appkey/messages"),
    "batch": 1000,
    # fault -> a fragment of the dead letter's reason (adapters/kakao_rules.c).
    "permanent": [
        ("error:unknown-sender", "-2017"),
        ("error:bad-secret", "-1001"),
        ("error:sender-blocked", "-1027"),
    ],
}
