/*
 * outcome.c - names and the bounded failure sink of adapter outcomes.
 */
#include <stdio.h>
#include <string.h>

#include "adapter.h"

const char *adapter_error_name(adapter_error e)
{
    static const char *const names[] = {
        [ADAPTER_ERR_NONE] = "",
        [ADAPTER_ERR_AUTH] = "auth",
        [ADAPTER_ERR_RATE_LIMIT] = "rate-limit",
        [ADAPTER_ERR_INVALID] = "invalid",
        [ADAPTER_ERR_NETWORK] = "network",
        [ADAPTER_ERR_TIMEOUT] = "timeout",
        [ADAPTER_ERR_REJECTED] = "rejected",
        [ADAPTER_ERR_INTERNAL] = "internal",
    };
    return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "internal";
}

const char *adapter_status_name(adapter_status s)
{
    static const char *const names[] = {
        [ADAPTER_OK] = "ok",
        [ADAPTER_AGAIN] = "again",
        [ADAPTER_FAILED] = "failed",
        [ADAPTER_DECLINED] = "declined",
        [ADAPTER_CANCELLED] = "cancelled",
    };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "failed";
}

void adapter_outcome_fail_recipient(adapter_outcome *o, const char *recipient, const char *reason)
{
    if (o->nfailures >= ADAPTER_FAILURES_MAX) {
        o->failures_dropped++;
        return;
    }
    adapter_failure *f = &o->failures[o->nfailures++];
    snprintf(f->recipient, sizeof f->recipient, "%s", recipient ? recipient : "");
    snprintf(f->reason, sizeof f->reason, "%s", reason ? reason : "");
}

void adapter_outcome_count_reason(adapter_outcome *o, const char *code, long long n)
{
    if (!code || !*code)
        code = "other";
    for (int i = 0; i < o->nreasons; i++)
        if (strcmp(o->reasons[i].code, code) == 0) {
            o->reasons[i].n += n;
            return;
        }
    if (o->nreasons == ADAPTER_REASONS_MAX) {
        /* Full: the last slot becomes "other" and takes every later code. */
        adapter_reason_count *last = &o->reasons[ADAPTER_REASONS_MAX - 1];
        snprintf(last->code, sizeof last->code, "other");
        last->n += n;
        return;
    }
    adapter_reason_count *r = &o->reasons[o->nreasons++];
    snprintf(r->code, sizeof r->code, "%s", code);
    r->n = n;
}
