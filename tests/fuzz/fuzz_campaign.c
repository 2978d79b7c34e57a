/*
 * fuzz_campaign.c - campaign_parse() (JSON, shape, every cross-field rule)
 * on any bytes; a campaign that parses is walked through its firings,
 * which must come in time order, and read back from its own document.
 */
#include "fuzz.h"

#include <stdlib.h>

#include "campaign.h"

static void walk(const campaign *c)
{
    campaign_firing f[16];
    int64_t after = c->start - 1;
    for (int round = 0; round < 4; round++) {
        size_t n = campaign_next_firings(c, after, f, 16);
        for (size_t i = 0; i < n; i++) {
            /* Strictly after AFTER, in time order (ties allowed), and a
             * real release. */
            if (f[i].at <= after || (i > 0 && f[i].at < f[i - 1].at) ||
                f[i].release >= c->nreleases)
                abort();
        }
        if (n > 0)
            after = f[n - 1].at;
        if (n < 16)
            return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    campaign_limits lim;
    diag_list errs, warns;
    campaign_limits_default(&lim);
    /* Small limits keep one input fast; the rules are the same. */
    lim.max_occurrences = 2000;
    diag_list_init(&errs);
    diag_list_init(&warns);
    campaign *c = campaign_parse((const char *)data, size, &lim, &errs, &warns);
    if (c) {
        walk(c);
        diag_list errs2;
        diag_list_init(&errs2);
        campaign *again = campaign_from_json(c->doc, &errs2);
        if (!again)
            abort(); /* a document valid once is valid when read back */
        campaign_free(again);
        diag_list_release(&errs2);
        campaign_free(c);
    } else if (!diag_any(&errs)) {
        abort(); /* a refusal carries at least one error */
    }
    diag_list_release(&errs);
    diag_list_release(&warns);
    return 0;
}
