/*
 * expected_reach.c - whom a campaign's next release should reach, from the
 * daemon the config's client section names: a list channel's active
 * members, each network's audience at its last post. What `haechi preview`
 * and `haechi rehearse` print for an approver; neither depends on it.
 */
#include "expected_reach.h"

#include <stdio.h>

#include "channel.h"
#include "httpc.h"
#include "isotime.h"

/* A channel that sends to an audience list reaches the list's active
 * members: one line per such channel of the campaign; how many it showed. */
static size_t show_list_reach(const config *cfg, const campaign *c)
{
    size_t shown = 0;
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        const char *list =
            json_string_value(json_object_get(json_object_get(c->doc, channel_names[ch]), "list"));
        if (!list || !(c->channels & (1u << ch)))
            continue;
        char url[700];
        httpc_answer a = {0};
        snprintf(url, sizeof url, "%s/api/v1/audiences/%s", cfg->client_url, list);
        int rc = httpc_request("GET", url, cfg->client_token, NULL, 0, &a);
        json_t *doc = rc == 0 && a.status == 200 ? json_loads(a.body ? a.body : "", 0, NULL) : NULL;
        json_t *counts = json_object_get(doc, "counts");
        if (doc && json_is_integer(json_object_get(counts, "active")))
            printf("  %-10s %-12s %12lld   (the active members of list %s, version %lld)\n",
                   channel_names[ch], "members",
                   (long long)json_integer_value(json_object_get(counts, "active")), list,
                   (long long)json_integer_value(json_object_get(doc, "version")));
        else if (rc == 0 && a.status == 404)
            printf("  %-10s list %s does not exist (haechi audience import %s FILE.csv)\n",
                   channel_names[ch], list, list);
        else
            printf("  %-10s list %s: unknown (%s)\n", channel_names[ch], list,
                   rc != 0 ? a.error : "the daemon refused the request");
        shown++;
        json_decref(doc);
        httpc_answer_release(&a);
    }
    return shown;
}

void expected_reach_print(const config *cfg, const campaign *c)
{
    char url[600];
    httpc_answer a = {0};
    snprintf(url, sizeof url, "%s/api/v1/reach", cfg->client_url);
    if (httpc_request("GET", url, cfg->client_token, NULL, 0, &a) != 0 || a.status != 200) {
        printf("expected reach: unknown (%s: %s)\n", cfg->client_url,
               a.status ? "the daemon refused the request" : a.error);
        httpc_answer_release(&a);
        return;
    }
    json_t *doc = json_loads(a.body ? a.body : "", 0, NULL), *e;
    size_t i, shown = 0;
    printf("expected reach (a list's active members; the audience at each network's last "
           "post):\n");
    shown += show_list_reach(cfg, c);
    json_array_foreach(json_object_get(doc, "reach"), i, e)
    {
        int ch = channel_from_name(json_string_value(json_object_get(e, "channel")));
        if (ch < 0 || !(c->channels & (1u << ch)))
            continue;
        char when[64];
        int64_t at = json_integer_value(json_object_get(e, "at_ms")) / 1000;
        isotime_format_human(at, c->zone, when, sizeof when);
        printf("  %-10s %-12s %12lld   (at %s)\n", channel_names[ch],
               json_string_value(json_object_get(e, "target")),
               (long long)json_integer_value(json_object_get(e, "reach")), when);
        shown++;
    }
    if (!shown)
        printf("  nothing yet: none of this campaign's channels has posted\n");
    json_decref(doc);
    httpc_answer_release(&a);
}
