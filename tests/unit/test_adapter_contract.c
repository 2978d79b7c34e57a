/*
 * test_adapter_contract.c - the offline half of the contract every adapter
 * in the registry keeps (adapters/adapter.h), run against each of them the
 * way libevent re-runs its suite per backend:
 *
 *   - create() with an offline environment opens nothing; destroy() frees;
 *   - render() answers JSON for every channel of the example campaign;
 *   - validate(), when present, finds no error in the example campaign;
 *   - done is called exactly once per send, and never inside send();
 *   - cancel() answers CANCELLED later, from the loop, not inside cancel();
 *   - destroy() answers every send still in flight with CANCELLED;
 *   - plan(), when present, declines or answers usable targets.
 *
 * Each adapter names the settings these cases need in FIXTURES; an adapter
 * without a row fails the first case. The online half (the wire exchange
 * with a stand-in of the channel's API) belongs to each channel's tests.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "campaign.h"
#include "check.h"
#include "config.h"
#include "fileio.h"

/* Per adapter: settings for a plain send, a send that stays in flight
 * until cancelled, and a plan that fans out (JSON channel sections); and
 * the target its sends carry (NULL: "all"), for an adapter that only ever
 * sends planned targets. An adapter whose plain and fanout settings are
 * the same text always fans out: no plan of it declines. A NULL fanout:
 * its plan needs an outside service (a store), left to its own tests. */
static const struct {
    const char *adapter;
    const char *plain, *slow, *fanout;
    const char *target;
} FIXTURES[] = {
    {"log", "{}", "{\"delay_ms\": 60000}", "{\"fanout\": 3}", NULL},
    {"log-insights", "{}", "{\"delay_ms\": 60000}", "{\"fanout\": 3}", NULL},
    /* Any variable that is set serves as the token; the url is loopback's discard port:
     * these cases reach no service. */
    {"facebook", "{\"page_id\": \"1\", \"token_env\": \"HOME\", \"url\": \"http://127.0.0.1:9\"}",
     "{\"page_id\": \"1\", \"token_env\": \"HOME\", \"url\": \"http://127.0.0.1:9\"}", NULL, NULL},
    {"instagram",
     "{\"ig_user_id\": \"1\", \"token_env\": \"HOME\", \"url\": \"http://127.0.0.1:9\"}",
     "{\"ig_user_id\": \"1\", \"token_env\": \"HOME\", \"url\": \"http://127.0.0.1:9\"}", NULL,
     NULL},
    /* No Redis, no outbound client here: every send waits on a token
     * renewal that ends without one; x has no plan(). */
    {"x", "{\"client_id\": \"contract\"}", "{\"client_id\": \"contract\"}", "{}", NULL},
    /* The composite: its networks' own rows hold; these reach kakaostory's. */
    {"sns", "{\"kakaostory\": {\"api_posting\": \"off\"}}",
     "{\"kakaostory\": {\"api_posting\": \"off\", \"min_gap_ms\": 60000}}",
     "{\"kakaostory\": {\"api_posting\": \"off\"}}", "kakaostory"},
    /* No outbound client here: api_posting off answers every send from the
     * loop; min_gap_ms keeps the later sends waiting their turn. */
    {"kakaostory", "{\"api_posting\": \"off\"}",
     "{\"api_posting\": \"off\", \"min_gap_ms\": 60000}", "{}", NULL},
    /* No Redis here: every send of a batch target starts from the loop and
     * ends there (this section names no list). Its plan reads the audience
     * store, so it has no fanout row: the channel's online tests plan. */
    {"kakao",
     "{\"appkey\": \"contract\", \"sender_key\": \"contract\", \"secret_env\": \"HOME\", "
     "\"url\": \"http://127.0.0.1:9\"}",
     "{\"appkey\": \"contract\", \"sender_key\": \"contract\", \"secret_env\": \"HOME\", "
     "\"url\": \"http://127.0.0.1:9\"}",
     NULL, "v1:0"},
};

#define EXAMPLE "campaigns/jamsi-meomchum.json"

typedef struct answers {
    int n;           /* done calls so far */
    int in_call;     /* set while an adapter call runs: done must not come then */
    int during_call; /* done calls that came while in_call */
    adapter_status last;
    json_t *targets;
} answers;

static void on_done(const adapter_outcome *o, void *arg)
{
    answers *a = arg;
    a->n++;
    a->during_call += a->in_call;
    a->last = o->status;
}

static void on_plan(json_t *targets, const adapter_outcome *o, void *arg)
{
    answers *a = arg;
    on_done(o, a);
    json_decref(a->targets);
    a->targets = targets;
}

static campaign *example(void)
{
    char *buf, why[256];
    size_t len;
    int over;
    campaign_limits lim;
    campaign_limits_default(&lim);
    if (file_read_capped(EXAMPLE, lim.max_bytes, &buf, &len, &over, why, sizeof why) != 0)
        return NULL;
    diag_list errs;
    diag_list_init(&errs);
    campaign *c = campaign_parse(buf, len, &lim, &errs, NULL);
    diag_list_release(&errs);
    free(buf);
    return c;
}

/* An adapter instance for channel sns from SECTION (JSON), in config's way. */
typedef struct instance {
    config cfg;
    const adapter_desc *d;
    void *state;
} instance;

static int instance_new(instance *in, struct event_base *base, const char *adapter,
                        const char *section, int offline)
{
    json_t *sec = json_loads(section, 0, NULL);
    json_object_set_new(sec, "adapter", json_string(adapter));
    json_t *doc = json_pack("{s:{s:O}}", "channels", "sns", sec);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    diag_list errs;
    config_defaults(&in->cfg);
    in->cfg.for_client = 1;
    diag_list_init(&errs);
    int rc = text ? config_load_buffer(text, strlen(text), &in->cfg, &errs) : -1;
    diag_list_release(&errs);
    free(text);
    json_decref(doc);
    json_decref(sec);
    in->d = adapter_find(adapter);
    in->state = NULL;
    if (rc != 0 || !in->d)
        return -1;
    adapter_env env = {.base = base, .engine_prefix = "contract:", .offline = offline};
    char err[256];
    in->state =
        in->d->ops->create(&env, in->cfg.channels[CHANNEL_SNS].adapter_conf, err, sizeof err);
    return in->state ? 0 : -1;
}

static void instance_free(instance *in)
{
    if (in->state)
        in->d->ops->destroy(in->state);
    config_release(&in->cfg);
}

/* The target of the row being run (FIXTURES[].target). */
static const char *row_target = "all";

static adapter_item item_for(const campaign *c, int ch, const char *item_id)
{
    return (adapter_item){.item_id = item_id,
                          .campaign_id = c->id,
                          .version = 1,
                          .release_id = "contract",
                          .channel = channel_names[ch],
                          .target = row_target,
                          .due_ms = c->start * 1000,
                          .attempt = 1,
                          .campaign = c->doc,
                          .zone = c->zone};
}

/* ---- the cases ------------------------------------------------------------ */

static void render_and_validate(const char *name, const campaign *c, struct event_base *base,
                                const char *plain)
{
    instance in;
    char title[128];
    int ok = instance_new(&in, base, name, plain, 1) == 0;
    snprintf(title, sizeof title, "%s: create() works offline from its config section", name);
    check_row(title, ok, "create failed");
    if (!ok) {
        instance_free(&in);
        return;
    }
    int rendered = 0, channels = 0;
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        if (!(c->channels & (1u << ch)))
            continue;
        channels++;
        adapter_item item = item_for(c, ch, "contract|render");
        char err[256] = "";
        json_t *p = in.d->ops->render(in.state, &item, err, sizeof err);
        rendered += json_is_object(p) || json_is_array(p);
        json_decref(p);
    }
    snprintf(title, sizeof title, "%s: render() answers JSON for all %d channels of the example",
             name, channels);
    check_row(title, rendered == channels, "a channel rendered no JSON");
    if (in.d->ops->validate) {
        diag_list errs, notes;
        diag_list_init(&errs);
        diag_list_init(&notes);
        for (int ch = 0; ch < CHANNEL_COUNT; ch++)
            if (c->channels & (1u << ch))
                in.d->ops->validate(json_object_get(c->doc, channel_names[ch]), c->doc,
                                    channel_names[ch], &errs, &notes);
        snprintf(title, sizeof title, "%s: validate() finds no error in the example", name);
        check_row(title, errs.len == 0, errs.len ? errs.items[0].message : NULL);
        diag_list_release(&errs);
        diag_list_release(&notes);
    }
    instance_free(&in);
}

static void done_once_from_the_loop(const char *name, const campaign *c, struct event_base *base,
                                    const char *plain)
{
    instance in;
    answers a = {0};
    char title[128];
    if (instance_new(&in, base, name, plain, 0) != 0) {
        check_row("done once: create", 0, "create failed");
        instance_free(&in);
        return;
    }
    adapter_item item = item_for(c, CHANNEL_SNS, "contract|once");
    a.in_call = 1;
    haechi_status rc = in.d->ops->send(in.state, &item, on_done, &a);
    a.in_call = 0;
    int after_call = a.n;
    event_base_dispatch(base); /* runs until the adapter has nothing pending */
    snprintf(title, sizeof title, "%s: send() returns OK and done comes once, from the loop", name);
    check_row(title, rc == HAECHI_OK && after_call == 0 && a.n == 1 && a.during_call == 0,
              "done before send returned, or not exactly once");
    instance_free(&in);
    snprintf(title, sizeof title, "%s: destroy() after the answer calls nothing more", name);
    check_row(title, a.n == 1, "done was called again by destroy");
}

static void cancel_and_destroy(const char *name, const campaign *c, struct event_base *base,
                               const char *slow)
{
    instance in;
    answers one = {0}, other = {0}, many = {0};
    char title[128];
    if (instance_new(&in, base, name, slow, 0) != 0) {
        check_row("cancel: create", 0, "create failed");
        instance_free(&in);
        return;
    }
    adapter_item a = item_for(c, CHANNEL_SNS, "contract|a");
    adapter_item b = item_for(c, CHANNEL_SNS, "contract|b");
    in.d->ops->send(in.state, &a, on_done, &one);
    in.d->ops->send(in.state, &b, on_done, &other);
    if (in.d->ops->cancel) {
        one.in_call = 1;
        in.d->ops->cancel(in.state, "contract|a");
        one.in_call = 0;
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        snprintf(title, sizeof title,
                 "%s: cancel(ID) answers that send CANCELLED from the loop, the other not", name);
        check_row(title,
                  one.n == 1 && one.during_call == 0 && one.last == ADAPTER_CANCELLED &&
                      other.n == 0,
                  "wrong answers after cancel");
    }
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "contract|m%d", i);
        adapter_item m = item_for(c, CHANNEL_SNS, id);
        in.d->ops->send(in.state, &m, on_done, &many);
    }
    in.d->ops->destroy(in.state);
    in.state = NULL;
    snprintf(title, sizeof title, "%s: destroy() answers each send in flight once, CANCELLED",
             name);
    check_row(title, many.n == 3 && many.last == ADAPTER_CANCELLED && other.n == 1 && one.n <= 1,
              "sends in flight not answered exactly once");
    /* Nothing of the adapter may be left on the loop. */
    snprintf(title, sizeof title, "%s: nothing of it is left on the loop after destroy()", name);
    check_row(title, event_base_loop(base, EVLOOP_NONBLOCK) == 1, "events still pending");
    instance_free(&in);
}

static void plan_targets(const char *name, const campaign *c, struct event_base *base,
                         const char *plain, const char *fanout)
{
    instance in;
    answers a = {0};
    char title[128];
    if (!fanout)
        return;
    if (instance_new(&in, base, name, plain, 0) != 0 || !in.d->ops->plan) {
        instance_free(&in);
        return;
    }
    adapter_item item = item_for(c, CHANNEL_SNS, "contract|plan");
    item.target = "all";
    if (strcmp(plain, fanout) != 0) {
        snprintf(title, sizeof title, "%s: plan() declines an item that needs no fan-out", name);
        check_row(title,
                  in.d->ops->plan(in.state, &item, on_plan, &a) == HAECHI_DECLINED && a.n == 0,
                  "did not decline");
    }
    instance_free(&in);
    if (instance_new(&in, base, name, fanout, 0) != 0) {
        instance_free(&in);
        return;
    }
    a.in_call = 1;
    haechi_status rc = in.d->ops->plan(in.state, &item, on_plan, &a);
    a.in_call = 0;
    event_base_dispatch(base);
    int usable = json_array_size(a.targets) > 0;
    size_t i;
    json_t *t;
    json_array_foreach(a.targets, i, t)
    {
        const char *s = json_string_value(t);
        usable = usable && s && *s && strlen(s) <= 63 && !strchr(s, '|') && strcmp(s, "all");
    }
    snprintf(title, sizeof title, "%s: plan() answers usable targets once, from the loop", name);
    check_row(title, rc == HAECHI_OK && a.n == 1 && a.during_call == 0 && usable,
              "no usable targets");
    json_decref(a.targets);
    instance_free(&in);
}

int main(void)
{
    campaign *c = example();
    struct event_base *base = event_base_new();
    CHECK(c != NULL);
    CHECK(base != NULL);
    check_report("the example campaign loads and an event base starts");
    if (!c || !base)
        return check_exit_status();
    for (size_t i = 0; adapter_at(i); i++) {
        const adapter_desc *d = adapter_at(i);
        size_t f = 0;
        while (f < sizeof FIXTURES / sizeof FIXTURES[0] && strcmp(FIXTURES[f].adapter, d->name))
            f++;
        char title[128];
        snprintf(title, sizeof title, "%s: has contract fixtures", d->name);
        check_row(title, f < sizeof FIXTURES / sizeof FIXTURES[0],
                  "add a row to FIXTURES in tests/unit/test_adapter_contract.c");
        if (f == sizeof FIXTURES / sizeof FIXTURES[0])
            continue;
        row_target = FIXTURES[f].target ? FIXTURES[f].target : "all";
        render_and_validate(d->name, c, base, FIXTURES[f].plain);
        done_once_from_the_loop(d->name, c, base, FIXTURES[f].plain);
        cancel_and_destroy(d->name, c, base, FIXTURES[f].slow);
        plan_targets(d->name, c, base, FIXTURES[f].plain, FIXTURES[f].fanout);
    }
    event_base_free(base);
    campaign_free(c);
    return check_exit_status();
}
