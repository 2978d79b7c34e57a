/*
 * graph_fake.h - what the Facebook and Instagram stand-ins share of the
 * Graph API (CHANNELS.md §2.4, §2.5): the error object, the usage headers,
 * its time format and its metrics. Header-only (static inline), so that
 * each stand-in stays one file on the fake core as the build links it.
 *
 * Usage headers: Graph sends X-App-Usage and X-Business-Use-Case-Usage
 * only "once enough calls have been made". The stand-ins omit them on the
 * first --usage-after calls (default 3), then always send them; the
 * figures are calls * 100 / --call-limit (default 1000) percent, or
 * --usage-percent P when given, so that a test can drive the adapter's
 * hold-back without making hundreds of calls.
 */
#ifndef HAECHI_GRAPH_FAKE_H
#define HAECHI_GRAPH_FAKE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake.h"

typedef struct graph_fake {
    const char *owner_id; /* the page or account the BUC header names */
    const char *buc_type; /* "pages", "instagram" */
    long usage_after;     /* calls before the usage headers appear */
    long call_limit;      /* calls that make 100% */
    long usage_percent;   /* a fixed figure, -1 when computed */
    long calls;           /* answered so far */
    unsigned long traces; /* fbtrace_id serial */
} graph_fake;

#define GRAPH_FAKE_DEFAULTS .usage_after = 3, .call_limit = 1000, .usage_percent = -1

static inline long graph_fake_percent(const graph_fake *g)
{
    if (g->usage_percent >= 0)
        return g->usage_percent;
    long p = g->call_limit > 0 ? g->calls * 100 / g->call_limit : 0;
    return p > 100 ? 100 : p;
}

/* The usage headers of one answer. REGAIN_MIN >= 0: a throttled answer,
 * at 100% with that BUC wait (minutes); -1 for every other answer. */
static inline void graph_fake_usage(fake_req *rq, graph_fake *g, long regain_min)
{
    g->calls++;
    if (g->calls <= g->usage_after && regain_min < 0)
        return;
    long p = regain_min >= 0 ? 100 : graph_fake_percent(g);
    fake_header(rq, "X-App-Usage", "{\"call_count\":%ld,\"total_time\":%ld,\"total_cputime\":%ld}",
                p, p / 2, p / 2);
    fake_header(rq, "X-Business-Use-Case-Usage",
                "{\"%s\":[{\"type\":\"%s\",\"call_count\":%ld,\"total_cputime\":%ld,"
                "\"total_time\":%ld,\"estimated_time_to_regain_access\":%ld}]}",
                g->owner_id, g->buc_type, p, p / 2, p / 2, regain_min > 0 ? regain_min : 0L);
}

/* {"error": {...}} with a fresh fbtrace_id. */
static inline void graph_fake_error(fake_req *rq, graph_fake *g, int status, int code, int subcode,
                                    int transient, const char *message)
{
    char trace[32];
    snprintf(trace, sizeof trace, "AFake%06lu", ++g->traces);
    json_t *err = json_pack("{s:s,s:s,s:i,s:s}", "message", message, "type",
                            code == 190 ? "OAuthException"
                            : code < 0  ? "IGApiException"
                                        : "OAuthException",
                            "code", code, "fbtrace_id", trace);
    if (subcode)
        json_object_set_new(err, "error_subcode", json_integer(subcode));
    if (transient)
        json_object_set_new(err, "is_transient", json_true());
    fake_reply_json(rq, status, json_pack("{s:o}", "error", err), NULL);
}

/* The BUC wait of an injected throttle: the fault's ms in whole minutes,
 * as Graph counts them (less than a minute says 0), 1 when no ms given. */
static inline long graph_fake_regain_min(const fake_req *rq)
{
    return rq->fault_ms > 0 ? rq->fault_ms / 60000 : 1;
}

/* The named errors both services share; 0 when KIND is one, -1 otherwise. */
static inline int graph_fake_common_error(fake_req *rq, graph_fake *g, const char *kind, int status)
{
    if (strcmp(kind, "server-error") == 0) {
        graph_fake_usage(rq, g, -1);
        graph_fake_error(rq, g, status ? status : 503, 2, 0, 1,
                         "An unexpected error has occurred. Please retry your request later.");
    } else if (strcmp(kind, "unauthorized") == 0) {
        graph_fake_error(rq, g, 400, 190, 467, 0, "Invalid OAuth access token data.");
    } else if (strcmp(kind, "expired-token") == 0 || strcmp(kind, "token-expired") == 0) {
        graph_fake_error(rq, g, 400, 190, 463, 0,
                         "Error validating access token: Session has expired.");
    } else if (strcmp(kind, "permission") == 0) {
        graph_fake_usage(rq, g, -1);
        graph_fake_error(rq, g, 403, 200, 0, 0,
                         "(#200) The user hasn't authorized the application to perform this "
                         "action");
    } else if (strcmp(kind, "transient") == 0) {
        graph_fake_usage(rq, g, -1);
        graph_fake_error(rq, g, 500, 1, 0, 1, "An unknown error occurred");
    } else {
        return -1;
    }
    return 0;
}

/* "2020-03-22T00:00:00+0000", Graph's time format. */
static inline void graph_fake_time(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d+0000", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The deterministic figures of a post aged AGE_MS for an audience of N:
 * impressions = N * minutes / 4800, the minutes capped at 1,440. */
static inline long long graph_fake_impressions(long long n, int64_t age_ms)
{
    int64_t min = age_ms / 60000;
    min = min < 0 ? 0 : min > 1440 ? 1440 : min;
    return n * min / 4800;
}

/* {"name","period","values":[{"value":V}],"id"} */
static inline json_t *graph_fake_metric(const char *object_id, const char *name, long long v)
{
    char id[160];
    snprintf(id, sizeof id, "%s/insights/%s/lifetime", object_id, name);
    return json_pack("{s:s,s:s,s:[{s:I}],s:s}", "name", name, "period", "lifetime", "values",
                     "value", (json_int_t)v, "id", id);
}

/* Whether the comma-separated parameter PARAM lists NAME. */
static inline int graph_fake_lists(const fake_req *rq, const char *param, const char *name)
{
    const char *v = fake_param(rq, param);
    size_t n = strlen(name);
    for (const char *p = v; p && (p = strstr(p, name)); p += n)
        if ((p == v || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

/* A number option: returns 2 (argv entries used), 0 when V is not one. */
static inline int graph_fake_number(const char *v, long min, long *out)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : -1;
    if (!v || *end || end == v || n < min)
        return 0;
    *out = n;
    return 2;
}

/* The shared options; 0 when NAME is not one of them. */
static inline int graph_fake_option(graph_fake *g, const char *name, const char *v)
{
    if (strcmp(name, "--usage-after") == 0)
        return graph_fake_number(v, 0, &g->usage_after);
    if (strcmp(name, "--call-limit") == 0)
        return graph_fake_number(v, 1, &g->call_limit);
    if (strcmp(name, "--usage-percent") == 0)
        return graph_fake_number(v, 0, &g->usage_percent);
    return 0;
}

#endif
