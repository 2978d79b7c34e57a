/*
 * preview.c - offline rendering through the configured adapters (see
 * preview.h).
 */
#include "preview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"

struct preview {
    const adapter_desc *desc[CHANNEL_COUNT];
    void *state[CHANNEL_COUNT];
};

preview *preview_new(struct event_base *base, const config *cfg, const campaign *c, char *err,
                     size_t errlen)
{
    preview *p = calloc(1, sizeof *p);
    adapter_env env = {.base = base, .engine_prefix = "", .key_prefix = "", .offline = 1};
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        if (!(c->channels & (1u << ch)))
            continue;
        const channel_conf *cc = &cfg->channels[ch];
        char why[256] = "unknown adapter";
        /* Without a config that names one, a channel's own adapter (one
         * registered under the channel's name) shows what it would send:
         * the "log" default would show only what a rehearsal records. */
        const adapter_desc *own = cc->named ? NULL : adapter_find(channel_names[ch]);
        p->desc[ch] = own ? own : cc->desc ? cc->desc : adapter_find(cc->adapter);
        if (p->desc[ch])
            p->state[ch] =
                p->desc[ch]->ops->create(&env, own ? NULL : cc->adapter_conf, why, sizeof why);
        if (!p->state[ch]) {
            snprintf(err, errlen, "/channels/%s: %s", channel_names[ch], why);
            preview_free(p);
            return NULL;
        }
    }
    return p;
}

void preview_free(preview *p)
{
    if (!p)
        return;
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        if (p->state[ch])
            p->desc[ch]->ops->destroy(p->state[ch]);
    free(p);
}

const char *preview_adapter(const preview *p, int ch)
{
    return p->desc[ch] ? p->desc[ch]->name : "";
}

json_t *preview_render(preview *p, const campaign *c, const char *release_id, int ch,
                       int64_t due_ms, char *err, size_t errlen)
{
    if (!p->state[ch]) {
        snprintf(err, errlen, "the campaign has no \"%s\" section", channel_names[ch]);
        return NULL;
    }
    char item_id[300];
    snprintf(item_id, sizeof item_id, "%s|%s|%lld|%s", c->id, release_id, (long long)due_ms,
             channel_names[ch]);
    adapter_item item = {.item_id = item_id,
                         .campaign_id = c->id,
                         .version = 1,
                         .release_id = release_id,
                         .channel = channel_names[ch],
                         .target = "all",
                         .due_ms = due_ms,
                         .attempt = 1,
                         .campaign = c->doc,
                         .zone = c->zone};
    return p->desc[ch]->ops->render(p->state[ch], &item, err, errlen);
}
