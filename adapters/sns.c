/*
 * sns.c - the "sns" adapter: one channel, several networks. A release on
 * the sns channel is planned into one target per network the campaign
 * names (sns.networks), and each target is sent by that network's own
 * adapter (facebook.c, instagram.c, x.c, kakaostory.c), so that every
 * network has its own outcome, retries and dead letters, and a slow or
 * throttled network never holds back the others.
 *
 * Each network's config is its own section inside the channel's:
 *   "sns": {"adapter": "sns", "x": {...}, "facebook": {...}}
 * A network the campaign names but the config does not is declined with
 * that reason, never silently skipped.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "adapter.h"
#include "facebook.h"
#include "instagram.h"
#include "kakaostory.h"
#include "x.h"

typedef struct sns_conf {
    facebook_conf facebook;
    instagram_conf instagram;
    x_conf x;
    kakaostory_conf kakaostory;
} sns_conf;

static const jfield sns_conf_fields[] = {
    {.name = "facebook",
     .kind = JK_OBJECT,
     .object = &facebook_conf_shape,
     JF_STORE(sns_conf, facebook)},
    {.name = "instagram",
     .kind = JK_OBJECT,
     .object = &instagram_conf_shape,
     JF_STORE(sns_conf, instagram)},
    {.name = "x", .kind = JK_OBJECT, .object = &x_conf_shape, JF_STORE(sns_conf, x)},
    {.name = "kakaostory",
     .kind = JK_OBJECT,
     .object = &kakaostory_conf_shape,
     JF_STORE(sns_conf, kakaostory)},
    {0}};
static const jobject sns_conf_shape = {.fields = sns_conf_fields};

/* The networks, in the order the campaign format lists them. */
static const struct network {
    const char *name;
    const adapter_desc *desc;
    size_t conf_offset; /* of its section in sns_conf; it begins with `int present` */
} networks[] = {
    {"facebook", &adapter_facebook, offsetof(sns_conf, facebook)},
    {"instagram", &adapter_instagram, offsetof(sns_conf, instagram)},
    {"x", &adapter_x, offsetof(sns_conf, x)},
    {"kakaostory", &adapter_kakaostory, offsetof(sns_conf, kakaostory)},
};
#define NNETWORKS (sizeof networks / sizeof networks[0])

/* An answer the composite gives itself (a plan, a decline): through the
 * loop, so that no callback runs inside plan() or send(). */
typedef struct own_answer {
    TAILQ_ENTRY(own_answer) link;
    struct sns_state *s;
    struct event *ev;
    adapter_done_fn *done;
    adapter_plan_fn *plan_done;
    json_t *targets;
    void *arg;
    adapter_outcome outcome;
    char item_id[300];
} own_answer;

typedef struct sns_state {
    struct event_base *base;
    void *child[NNETWORKS]; /* NULL: the network is not configured */
    TAILQ_HEAD(, own_answer) answers;
} sns_state;

/* A send relayed to a network adapter: its answer passes through here. */
typedef struct relay {
    adapter_done_fn *done;
    void *arg;
} relay;

static const struct network *network_named(const char *name, size_t *index)
{
    for (size_t i = 0; i < NNETWORKS; i++)
        if (name && strcmp(networks[i].name, name) == 0) {
            if (index)
                *index = i;
            return &networks[i];
        }
    return NULL;
}

static void sns_destroy(void *state);

static void *sns_create(const adapter_env *env, const void *conf, char *err, size_t errlen)
{
    sns_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base = env->base;
    TAILQ_INIT(&s->answers);
    /* A network adapter always gets a config struct: zeroed means defaults. */
    static const sns_conf none;
    if (!conf)
        conf = &none;
    for (size_t i = 0; i < NNETWORKS; i++) {
        const void *nconf = (const char *)conf + networks[i].conf_offset;
        int present = *(const int *)nconf;
        /* Offline (preview), every network renders, configured or not. */
        if (!present && !env->offline)
            continue;
        char why[256] = "";
        s->child[i] = networks[i].desc->ops->create(env, nconf, why, sizeof why);
        if (!s->child[i]) {
            snprintf(err, errlen, "%s: %s", networks[i].name, why);
            sns_destroy(s);
            return NULL;
        }
    }
    return s;
}

static void own_answer_free(own_answer *a)
{
    TAILQ_REMOVE(&a->s->answers, a, link);
    if (a->ev)
        event_free(a->ev);
    json_decref(a->targets);
    free(a);
}

static void own_answer_deliver(own_answer *a)
{
    adapter_outcome o = a->outcome;
    adapter_done_fn *done = a->done;
    adapter_plan_fn *plan_done = a->plan_done;
    json_t *targets = a->targets;
    void *arg = a->arg;
    a->targets = NULL;
    own_answer_free(a);
    if (plan_done)
        plan_done(o.status == ADAPTER_OK ? targets : NULL, &o, arg);
    else
        done(&o, arg);
    if (o.status != ADAPTER_OK || !plan_done)
        json_decref(targets);
}

static void own_answer_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    own_answer_deliver(arg);
}

static own_answer *own_answer_new(sns_state *s, const char *item_id, void *arg)
{
    own_answer *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->s = s;
    a->arg = arg;
    snprintf(a->item_id, sizeof a->item_id, "%s", item_id);
    a->ev = evtimer_new(s->base, own_answer_fired, a);
    TAILQ_INSERT_TAIL(&s->answers, a, link);
    struct timeval now = {0, 0};
    if (!a->ev || evtimer_add(a->ev, &now) != 0) {
        own_answer_free(a);
        return NULL;
    }
    return a;
}

static void sns_destroy(void *state)
{
    sns_state *s = state;
    if (!s)
        return;
    own_answer *a;
    while ((a = TAILQ_FIRST(&s->answers))) {
        a->outcome = (adapter_outcome){.status = ADAPTER_CANCELLED};
        snprintf(a->outcome.reason, sizeof a->outcome.reason, "sns: shutting down");
        own_answer_deliver(a);
    }
    for (size_t i = 0; i < NNETWORKS; i++)
        if (s->child[i])
            networks[i].desc->ops->destroy(s->child[i]);
    free(s);
}

/* ---- validate and render ---------------------------------------------------- */

static void sns_validate(const json_t *section, const json_t *campaign, const char *path,
                         diag_list *errs, diag_list *notes)
{
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(section, "networks"), i, name)
    {
        const struct network *n = network_named(json_string_value(name), NULL);
        if (n && n->desc->ops->validate)
            n->desc->ops->validate(section, campaign, path, errs, notes);
    }
}

static json_t *render_one(sns_state *s, size_t i, const adapter_item *item, char *err,
                          size_t errlen)
{
    if (!s->child[i]) {
        json_t *o = json_pack("{s:s, s:s}", "network", networks[i].name, "declined",
                              "not configured in channels.sns");
        return o;
    }
    adapter_item one = *item;
    one.target = networks[i].name;
    return networks[i].desc->ops->render(s->child[i], &one, err, errlen);
}

static json_t *sns_render(void *state, const adapter_item *item, char *err, size_t errlen)
{
    sns_state *s = state;
    size_t i;
    if (network_named(item->target, &i))
        return render_one(s, i, item, err, errlen);
    json_t *all = json_array(), *name;
    size_t k;
    json_array_foreach(json_object_get(json_object_get(item->campaign, item->channel), "networks"),
                       k, name)
    {
        if (!network_named(json_string_value(name), &i))
            continue;
        json_t *one = render_one(s, i, item, err, errlen);
        if (!one) {
            json_decref(all);
            return NULL;
        }
        json_array_append_new(all, one);
    }
    return all;
}

/* ---- plan and send ------------------------------------------------------------- */

static haechi_status sns_plan(void *state, const adapter_item *item, adapter_plan_fn *done,
                              void *arg)
{
    sns_state *s = state;
    json_t *listed = json_object_get(json_object_get(item->campaign, item->channel), "networks");
    if (!json_is_array(listed) || json_array_size(listed) == 0)
        return HAECHI_DECLINED;
    own_answer *a = own_answer_new(s, item->item_id, arg);
    if (!a)
        return HAECHI_ERR;
    a->plan_done = done;
    a->outcome.status = ADAPTER_OK;
    a->targets = json_deep_copy(listed);
    return HAECHI_OK;
}

static void relayed(const adapter_outcome *o, void *arg)
{
    relay *r = arg;
    adapter_outcome mine = *o;
    /* A network's throttle is that network's: the channel's other networks go on. */
    if (mine.status == ADAPTER_AGAIN && mine.scope == ADAPTER_SCOPE_CHANNEL)
        mine.scope = ADAPTER_SCOPE_ITEM;
    adapter_done_fn *done = r->done;
    void *done_arg = r->arg;
    free(r);
    done(&mine, done_arg);
}

static haechi_status decline(sns_state *s, const adapter_item *item, adapter_done_fn *done,
                             void *arg, const char *reason)
{
    own_answer *a = own_answer_new(s, item->item_id, arg);
    if (!a)
        return HAECHI_ERR;
    a->done = done;
    a->outcome.status = ADAPTER_DECLINED;
    snprintf(a->outcome.reason, sizeof a->outcome.reason, "%s", reason);
    return HAECHI_OK;
}

static haechi_status sns_send(void *state, const adapter_item *item, adapter_done_fn *done,
                              void *arg)
{
    sns_state *s = state;
    size_t i;
    char why[200];
    if (!network_named(item->target, &i)) {
        snprintf(why, sizeof why, "sns: \"%.63s\" is not a network this adapter knows",
                 item->target);
        return decline(s, item, done, arg, why);
    }
    if (!s->child[i]) {
        snprintf(why, sizeof why,
                 "sns: %s is not configured (add a \"%s\" section to channels.sns)",
                 networks[i].name, networks[i].name);
        return decline(s, item, done, arg, why);
    }
    relay *r = malloc(sizeof *r);
    if (!r)
        return HAECHI_ERR;
    r->done = done;
    r->arg = arg;
    if (networks[i].desc->ops->send(s->child[i], item, relayed, r) != HAECHI_OK) {
        free(r);
        return HAECHI_ERR;
    }
    return HAECHI_OK;
}

static void sns_cancel(void *state, const char *item_id)
{
    sns_state *s = state;
    for (size_t i = 0; i < NNETWORKS; i++)
        if (s->child[i] && networks[i].desc->ops->cancel)
            networks[i].desc->ops->cancel(s->child[i], item_id);
    own_answer *a, *next;
    for (a = TAILQ_FIRST(&s->answers); a; a = next) {
        next = TAILQ_NEXT(a, link);
        if (item_id && strcmp(a->item_id, item_id) != 0)
            continue;
        /* Not sent, whatever the answer would have been. */
        a->outcome = (adapter_outcome){.status = ADAPTER_CANCELLED};
        snprintf(a->outcome.reason, sizeof a->outcome.reason, "sns: cancelled");
    }
}

static haechi_status sns_poll_insights(void *state, const char *target, const char *external_id,
                                       adapter_insights_fn *done, void *arg)
{
    sns_state *s = state;
    size_t i;
    if (!network_named(target, &i) || !s->child[i] || !networks[i].desc->ops->poll_insights)
        return HAECHI_ERR;
    return networks[i].desc->ops->poll_insights(s->child[i], target, external_id, done, arg);
}

static const adapter_ops sns_ops = {
    .create = sns_create,
    .destroy = sns_destroy,
    .validate = sns_validate,
    .render = sns_render,
    .plan = sns_plan,
    .send = sns_send,
    .cancel = sns_cancel,
    .poll_insights = sns_poll_insights,
};

const adapter_desc adapter_sns = {
    .name = "sns",
    .summary = "Facebook, Instagram, X and KakaoStory: one target per network",
    .flags = ADAPTER_FANOUT | ADAPTER_INSIGHTS,
    .limits = {.max_inflight = 64},
    .config_shape = &sns_conf_shape,
    .config_size = sizeof(sns_conf),
    .ops = &sns_ops,
};
