/*
 * graph.h - what the two services on Meta's Graph API (the facebook and
 * instagram adapters) share: the Graph error object, its classification by
 * error code (never by HTTP status: Graph answers most errors 400 and some
 * 403 or 500 whatever they mean), the usage headers that say how close the
 * app and the page are to being throttled, and the insights read.
 *
 * A classification is a table of graph_rule rows searched in order; the
 * first row whose code (or code range) and subcode match wins. Instagram
 * puts its own rows (CHANNELS.md §3.4) in front of graph_rules, which is
 * the one table of Graph-wide codes (§2.4).
 */
#ifndef HAECHI_GRAPH_H
#define HAECHI_GRAPH_H

#include <stddef.h>

#include "adapter.h"
#include "post.h"

/* {"error": {"message", "type", "code", "error_subcode", "is_transient", "fbtrace_id"}} */
typedef struct graph_error {
    int code;
    int subcode;
    int is_transient;
    char message[200];
    char type[48];
    char fbtrace_id[48];
} graph_error;

/* Fills E from an answer's body. Returns 1 when the body holds a Graph
 * error object, 0 otherwise (E is then zeroed). */
int graph_error_parse(const char *body, size_t len, graph_error *e);

/* What an error means for the send that met it. */
typedef enum graph_action {
    GRAPH_RETRY,     /* AGAIN, scope ITEM: a temporary fault (codes 1, 2, is_transient) */
    GRAPH_THROTTLE,  /* AGAIN rate-limit, scope CHANNEL, with a delay */
    GRAPH_HOLD,      /* AGAIN with hold: a quota that frees by itself (IG 9/2207042) */
    GRAPH_RECREATE,  /* AGAIN: the container is gone; the next attempt makes a new one */
    GRAPH_NOT_READY, /* IG 9007/2207027: poll the container again, then publish again */
    GRAPH_DUPLICATE, /* 506: FAILED rejected, or sent after an unknown outcome */
    GRAPH_FAIL,      /* FAILED with the row's error class */
    GRAPH_ALERT,     /* FAILED rejected, and people must look (policy, spam, restriction) */
} graph_action;

typedef struct graph_rule {
    int code_lo, code_hi; /* the codes it covers (one code: lo == hi) */
    int subcode;          /* 0: any subcode */
    graph_action action;
    adapter_error error; /* the outcome's class */
    const char *meaning; /* for the reason: "page token expired" */
} graph_rule;

/* The Graph-wide table (CHANNELS.md §2.4), terminated by a row with a NULL
 * meaning. */
extern const graph_rule graph_rules[];

/* Instagram's own codes and subcodes (CHANNELS.md §3.4), searched before
 * graph_rules for the instagram adapter. */
extern const graph_rule graph_instagram_rules[];

/*
 * The row for E: the first match in TABLE (NULL: none), then in
 * graph_rules. A code no row lists is a retry when the body says
 * is_transient, else a permanent refusal: a row that says "never retry"
 * wins over is_transient (Graph marks some policy blocks transient).
 * Never NULL.
 */
const graph_rule *graph_classify(const graph_rule *table, const graph_error *e);

/* The row of TABLE whose subcode is SUBCODE whatever the code (Instagram's
 * container status names only a subcode), or NULL. */
const graph_rule *graph_rule_by_subcode(const graph_rule *table, int subcode);

/* What a 190's subcode says of the token: "expired", "invalid", ... ("" for
 * one it does not know). */
const char *graph_token_meaning(int subcode);

/* ---- usage headers ----------------------------------------------------------------- */

/* The highest figure of the three usage headers, in percent, and the
 * Business-Use-Case wait when one is given. */
typedef struct graph_usage {
    int seen;                 /* at least one header was readable */
    int max_percent;          /* the highest call_count/total_time/total_cputime */
    char which[64];           /* "X-App-Usage call_count" */
    long long regain_minutes; /* estimated_time_to_regain_access; -1 when not given */
} graph_usage;

/* Reads the headers' values (NULL when absent) into U. */
void graph_usage_parse(const char *app_usage, const char *page_usage, const char *buc_usage,
                       graph_usage *u);

/* The same, from an answer. */
void graph_usage_read(const outbound_response *r, graph_usage *u);

/*
 * The hold-back state of one adapter: once a figure reaches THRESHOLD
 * percent (or Graph answered a throttling code), sends answer AGAIN
 * rate-limit, scope CHANNEL, without calling, until until_ms.
 */
typedef struct graph_throttle {
    int threshold;       /* percent; 0: 95 */
    long long backoff_s; /* the wait when the headers give none; 0: 60 */
    long long until_ms;
    char why[160];
} graph_throttle;

/* Notes U; returns 1 when it starts (or extends) a hold. */
int graph_throttle_note(graph_throttle *t, const graph_usage *u, long long now_ms);

/* Holds for the error E (a throttling code) and fills the delay. */
long long graph_throttle_error(graph_throttle *t, const graph_usage *u, const graph_error *e,
                               long long now_ms);

/* 1 with O filled (AGAIN rate-limit, CHANNEL) while a hold lasts. */
int graph_throttle_active(const graph_throttle *t, const char *service, long long now_ms,
                          adapter_outcome *o);

/* ---- outcomes ------------------------------------------------------------------------- */

/*
 * Fills O for the error E of an answer with HTTP STATUS classified as RULE:
 * "facebook: page token expired (Graph 190/463): <hint>" and the
 * service's message. DELAY_MS is the wait of a THROTTLE or HOLD row.
 */
void graph_outcome(const graph_rule *rule, const graph_error *e, int status, const char *service,
                   const char *hint, long long delay_ms, adapter_outcome *o);

/* O for an answer that is not a Graph error object: a 5xx or 429 is
 * AGAIN, anything else FAILED (the service misbehaves). */
void graph_outcome_unparsed(const outbound_response *r, const char *service, adapter_outcome *o);

/* ---- small helpers ---------------------------------------------------------------------- */

/* Epoch seconds of Graph's times ("2020-03-22T00:00:00+0000"), -1 when
 * unreadable. */
long long graph_time_parse(const char *s);

/* Appends S to BUF (of LEN, holding USED bytes) percent-encoded for a URL
 * query. Returns the new used length, or LEN when it did not fit. */
size_t graph_urlencode(char *buf, size_t len, size_t used, const char *s);

/* The "Authorization: Bearer T" line for TOKEN into BUF. */
void graph_auth_header(char *buf, size_t len, const char *token);

/*
 * The account's token from TOKEN_ENV or TOKEN_FILE (config_secret), into
 * *TOKEN (new; untouched offline), and into HINT the sentence an operator
 * at 3 a.m. needs when Graph refuses it: which config field to renew WHAT
 * ("page token") in. 0, or -1 with "SERVICE: WHAT: why" in ERR.
 */
int graph_token_open(const char *service, const char *what, const char *token_env,
                     const char *token_file, int offline, char **token, char *hint, size_t hintlen,
                     char *err, size_t errlen);

/*
 * Reads a post's insights: GET URL (…/insights?metric=...) and answers
 * DONE with the figures named by the metric names (NULL: not asked for).
 * {"data":[{"name","period","values":[{"value":N}]}]}.
 */
typedef struct graph_metrics {
    const char *impressions, *reach, *clicks;
} graph_metrics;

haechi_status graph_poll_insights(post_set *set, const char *service, const char *url,
                                  const char *token, const graph_metrics *names,
                                  const char *external_id, adapter_insights_fn *done, void *arg);

/* ---- the post's text ---------------------------------------------------------------------- */

/*
 * What a Graph post carries: the network's composed post (sns_text.h,
 * sns_post_compose) in the first language that has a text, with its
 * counts: the text, the link (facebook only: Instagram posts none), the
 * image.
 */
typedef struct graph_text {
    char *text;        /* new */
    const char *link;  /* borrowed from the campaign; NULL when none */
    const char *image; /* borrowed; NULL when none */
    size_t chars;      /* code points of text */
    size_t hashtags;   /* '#' words in text */
} graph_text;

/* NETWORK's post ("facebook", "instagram") for release RELEASE_ID (its
 * own words when it has some): 0, or -1 when out of memory or the
 * campaign has no text for it. */
int graph_compose(const json_t *campaign, const char *release_id, const char *network,
                  graph_text *out);
void graph_text_free(graph_text *t);

#endif
