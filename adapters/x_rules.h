/*
 * x_rules.h - what X's answers mean, as pure functions the X adapter
 * (x.c) applies and tests/unit/test_x.c checks without a network: the
 * rate-limit headers and the delay they imply, the class of an answer
 * from its status and problem-details body, and the comparison of a post
 * with what X shows of it.
 */
#ifndef HAECHI_X_RULES_H
#define HAECHI_X_RULES_H

#include <jansson.h>
#include <stddef.h>

/* The rate-limit headers of one answer; -1 where a header is absent or
 * unreadable. Resets are Unix epoch seconds, as X sends them. */
typedef struct x_limits {
    long long limit, remaining, reset_s;             /* x-rate-limit-* (the 15-minute window) */
    long long day_limit, day_remaining, day_reset_s; /* x-user-limit-24hour-* */
} x_limits;

/* Reads the six headers through GET (outbound_header() in the adapter). */
typedef const char *x_header_fn(const void *ctx, const char *name);
void x_limits_read(x_limits *l, x_header_fn *get, const void *ctx);

/* X sends no Retry-After. A 429 without reset headers waits one window. */
#define X_WINDOW_MS (15LL * 60 * 1000)
#define X_DAY_MS (24LL * 60 * 60 * 1000)

/*
 * How long to wait after a 429: until the reset of the window that is
 * exhausted, the 24-hour one when its remaining is 0 (a 429 may come while
 * the 15-minute window still has room), else the 15-minute one; at least
 * one second (a reset already past means clocks disagree a little).
 */
long long x_limits_wait_ms(const x_limits *l, long long now_ms);

/*
 * After an answer that was not a 429: how long the next sends must be held
 * back without calling, because a window's remaining reached 0 (the later
 * reset when both did). 0: no hold.
 */
long long x_limits_hold_ms(const x_limits *l, long long now_ms);

/* What an answer from X means. */
typedef enum x_class {
    X_CREATED,      /* 2xx */
    X_RATE_LIMITED, /* 429 (problem details, or the legacy code 88) */
    X_USAGE_CAPPED, /* 429 usage-capped: the app's monthly cap */
    X_UNAUTHORIZED, /* 401: refresh the token, then try once more */
    X_APP_ONLY,     /* 403 unsupported-authentication: an app-only token */
    X_DUPLICATE,    /* 403 duplicate content (or legacy code 187) */
    X_FORBIDDEN,    /* another 403: a policy or permission refusal */
    X_INVALID,      /* 400 invalid-request */
    X_SERVER,       /* 5xx */
    X_OTHER         /* any other status */
} x_class;

/*
 * Classifies STATUS with its BODY (the parsed JSON, may be NULL) and puts
 * the service's own words in MSG: errors[].message (joined), else detail,
 * else title, else "HTTP n". Never copies anything but those fields.
 */
x_class x_classify(int status, const json_t *body, char *msg, size_t msglen);

const char *x_class_name(x_class c);

/*
 * Whether a post X shows (SEEN, as GET /2/users/:id/tweets returns it) is
 * the text we posted (OURS). X rewrites every link to a t.co address and
 * escapes &, < and > as HTML entities in the text it returns, so both are
 * compared with the entities decoded, links (anything with "://", and
 * bare domains like seoul.go.kr, which X links too) left out and runs of
 * white space folded to one space.
 */
int x_text_matches(const char *ours, const char *seen);

/* The normalised form x_text_matches() compares: a new string, or NULL. */
char *x_text_normalise(const char *text);

#endif
