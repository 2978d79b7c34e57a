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
        /* The channel's own adapter's rules (X's 280) hold whichever
         * adapter this config routes the channel to: a rehearsal on the
         * log adapter must not accept a post the network would refuse. */
        const adapter_desc *own = adapter_find(channel_names[ch]);
        char path[40];
        snprintf(path, sizeof path, "/%s", channel_names[ch]);
        json_t *section = json_object_get(c->doc, channel_names[ch]);
        if (own && own != d && own->ops->validate)
            own->ops->validate(section, c->doc, path, errs, notes);
        if (d && d->ops->validate)
            d->ops->validate(section, c->doc, path, errs, notes);
    }
    return errs->len + errs->dropped - before;
}
