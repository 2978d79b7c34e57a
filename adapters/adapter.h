/*
 * adapter.h - the one interface every channel adapter implements.
 *
 * An adapter is a const ops table plus a descriptor, registered by name in
 * adapters/registry.c; the config maps each channel to an adapter by name
 * ("sns": {"adapter": "log", ...}), which is also how `haechi rehearse`
 * reroutes every channel to the log adapter. The core never asks which
 * channel it is talking to: no `if (channel == KAKAO)` outside adapters/.
 *
 * Lifecycle: create() once per process with the adapter's config section,
 * then any number of send() calls, then destroy(). An adapter runs on the
 * process's libevent loop and must never block it.
 */
#ifndef HAECHI_ADAPTER_H
#define HAECHI_ADAPTER_H

#include <event2/event.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "rconn.h"
#include "tz.h"

/* The outcome of one send. */
typedef enum adapter_status {
    ADAPTER_OK,    /* delivered: external_id and reach are set */
    ADAPTER_RETRY, /* try again later: retry_after_ms > 0 when the channel said when */
    ADAPTER_FAILED /* will never work as it is: reason says why */
} adapter_status;

typedef struct adapter_outcome {
    adapter_status status;
    char external_id[128];  /* the channel's id of what was posted */
    long long reach;        /* recipients / followers reached, when known */
    int64_t retry_after_ms; /* RETRY: the channel's own delay (Retry-After), 0 if none */
    char reason[256];       /* RETRY and FAILED: one line for people */
} adapter_outcome;

/* One work item: one release firing on one channel, for one target batch. */
typedef struct adapter_item {
    const char *item_id; /* unique per item, stable across retries */
    const char *campaign_id;
    long long version; /* of the campaign document */
    const char *release_id;
    const char *channel;    /* "sns", "kakao", ... */
    const char *target;     /* the batch of recipients; "all" when the channel has none */
    int64_t due_ms;         /* when the release was due */
    int attempt;            /* 1 for the first try */
    const json_t *campaign; /* the whole campaign document (borrowed) */
    const tz *zone;         /* the campaign's time zone */
} adapter_item;

/* Called exactly once per send(), never from inside send() itself. */
typedef void adapter_done_fn(const adapter_outcome *outcome, void *arg);

typedef struct adapter_env {
    struct event_base *base;
    rconn *redis;              /* the process's command connection */
    const char *engine_prefix; /* "PREFIX:{e}:" for keys an adapter writes */
} adapter_env;

typedef struct adapter_ops {
    const char *name;

    /*
     * Creates the adapter's state from its config section (the channel's
     * object in "channels", may be NULL). Returns NULL with a reason in err
     * for a config it cannot work with.
     */
    void *(*create)(const adapter_env *env, const json_t *config, char *err, size_t errlen);
    void (*destroy)(void *state);

    /*
     * Optional. Deeper checks of the campaign's section for this channel,
     * reported under PATH (e.g. "/sns") into errs.
     */
    void (*validate)(const json_t *section, const json_t *campaign, const char *path,
                     diag_list *errs);

    /*
     * The exact payload(s) the adapter would send for ITEM, as JSON (used by
     * previews, rehearsals and the log adapter). New reference, or NULL with
     * a reason in err.
     */
    json_t *(*render)(void *state, const adapter_item *item, char *err, size_t errlen);

    /*
     * Starts sending ITEM. Returns 0 and later calls DONE once; or -1 when
     * it could not even start (DONE is not called; the caller retries).
     * ITEM and everything it points to are valid only during this call:
     * copy what the send needs later.
     */
    int (*send)(void *state, const adapter_item *item, adapter_done_fn *done, void *arg);
} adapter_ops;

/* The adapter registered under NAME, or NULL. */
const adapter_ops *adapter_find(const char *name);

/* "log, ..." for messages. */
void adapter_names(char *buf, size_t len);

#endif
