/*
 * channel_check.c - runs the adapters' campaign checks (channel_check.h).
 */
#include "channel_check.h"

#include <stdio.h>

#include "adapter.h"

size_t channel_check_adapters(const config *cfg, const campaign *c, diag_list *errs,
                              diag_list *notes)
{
    size_t before = errs->len + errs->dropped;
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        if (!(c->channels & (1u << ch)))
            continue;
        const adapter_desc *d = cfg->channels[ch].desc;
        if (!d)
            d = adapter_find(cfg->channels[ch].adapter);
        if (!d || !d->ops->validate)
            continue;
        char path[40];
        snprintf(path, sizeof path, "/%s", channel_names[ch]);
        d->ops->validate(json_object_get(c->doc, channel_names[ch]), c->doc, path, errs, notes);
    }
    return errs->len + errs->dropped - before;
}
