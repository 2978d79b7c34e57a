/*
 * cli_preview.c - `haechi preview FILE`: the exact payload each channel's
 * configured adapter would send at each release's first firing, offline.
 */
#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "campaign.h"
#include "config.h"
#include "expected_reach.h"
#include "httpc.h"
#include "fileio.h"
#include "isotime.h"
#include "preview.h"
#include "verbs.h"

typedef struct preview_opts {
    const char *config_path, *release, *channel, *file;
    int as_json;
} preview_opts;

static int load_config(const char *path, config *cfg)
{
    config_defaults(cfg);
    cfg->for_client = 1; /* no daemon secrets needed */
    if (!path)
        return 0;
    diag_list errs;
    diag_list_init(&errs);
    int rc = config_load_file(path, cfg, &errs);
    if (rc != 0) {
        fprintf(stderr, "haechi preview: config %s is invalid:\n", path);
        diag_print(&errs, stderr);
    }
    diag_list_release(&errs);
    return rc;
}

static campaign *load_campaign(const char *file, const config *cfg)
{
    char *buf, why[256];
    size_t len;
    int over;
    if (file_read_capped(file, cfg->limits.max_bytes, &buf, &len, &over, why, sizeof why) != 0) {
        fprintf(stderr, "haechi preview: %s\n", why);
        return NULL;
    }
    diag_list errs, warns;
    diag_list_init(&errs);
    diag_list_init(&warns);
    campaign *c = over ? NULL : campaign_parse(buf, len, &cfg->limits, &errs, &warns);
    free(buf);
    if (!c) {
        diag_print(&errs, stdout);
        fprintf(stderr, "haechi preview: %s is invalid; `haechi validate %s` explains\n", file,
                file);
    }
    diag_list_release(&errs);
    diag_list_release(&warns);
    return c;
}

/* The first firing of release I, or -1 when it never fires. */
static int64_t first_firing(const campaign *c, size_t i)
{
    campaign_firing f[64];
    int64_t after = c->start - 1;
    size_t n;
    while ((n = campaign_next_firings(c, after, f, 64)) > 0) {
        for (size_t k = 0; k < n; k++)
            if (f[k].release == i)
                return f[k].at;
        after = f[n - 1].at;
    }
    return -1;
}

static void print_json(const json_t *v)
{
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    printf("%s\n", text ? text : "(out of memory)");
    free(text);
}

/* "226/280 weighted characters, 4/30 hashtags": an adapter's counts, as it named them. */
static void print_counts(const json_t *counts)
{
    const char *key;
    json_t *v;
    int first = 1;
    json_object_foreach((json_t *)counts, key, v)
    {
        if (json_is_string(v))
            printf("%s%s: %s", first ? "   " : ", ", key, json_string_value(v));
        else if (json_is_integer(v))
            printf("%s%s: %lld", first ? "   " : ", ", key, (long long)json_integer_value(v));
        first = 0;
    }
}

/* One request an adapter would make: "-- x: POST /2/tweets" and its body. */
static int print_request(const json_t *rq)
{
    const char *method = json_string_value(json_object_get(rq, "method"));
    const char *path = json_string_value(json_object_get(rq, "path"));
    const char *network = json_string_value(json_object_get(rq, "network"));
    const char *declined = json_string_value(json_object_get(rq, "declined"));
    if (declined) {
        printf("-- %s: nothing is sent (%s)\n", network ? network : "?", declined);
        return 0;
    }
    if (!method || !path)
        return -1;
    printf("-- %s%s%s %s", network ? network : "", network ? ": " : "", method, path);
    print_counts(json_object_get(rq, "counts"));
    printf("\n");
    const json_t *body = json_object_get(rq, "body");
    if (body)
        print_json(body);
    return 0;
}

/* Whether PAYLOAD is requests (print_requests) all the way down. */
static int is_requests(const json_t *payload)
{
    if (json_is_object(payload))
        return json_object_get(payload, "declined") ||
               (json_object_get(payload, "method") && json_object_get(payload, "path"));
    if (!json_is_array(payload) || json_array_size(payload) == 0)
        return 0;
    size_t i;
    json_t *v;
    json_array_foreach(payload, i, v) if (!is_requests(v)) return 0;
    return 1;
}

static void print_each(const json_t *payload)
{
    if (json_is_object(payload)) {
        print_request(payload);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(payload, i, v) print_each(v);
}

/*
 * The HTTP requests an adapter would make (an object with "method" and
 * "path", or lists of them: one per network, one per step), one by one in
 * the words an approver reads: what goes where, and how long it is. -1
 * for a payload of another shape, which is printed as JSON.
 */
static int print_requests(const json_t *payload)
{
    if (!is_requests(payload))
        return -1;
    print_each(payload);
    return 0;
}

static void print_one(const preview_opts *o, json_t *out, const campaign *c, const release *r,
                      int64_t at, int ch, const char *adapter, json_t *payload)
{
    char when[64];
    if (o->as_json) {
        isotime_format_rfc3339(at, c->zone, when, sizeof when);
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:O}", "release", r->id, "due",
                                             when, "channel", channel_names[ch], "adapter", adapter,
                                             "payload", payload));
        return;
    }
    isotime_format_human(at, c->zone, when, sizeof when);
    printf("== %s, first due %s: %s (adapter %s)\n", r->id, when, channel_names[ch], adapter);
    if (print_requests(payload) != 0)
        print_json(payload);
    printf("\n");
}

/* Renders every (release, channel) the options select. Returns the exit
 * status: 1 when an adapter could not render. */
static int render_all(const preview_opts *o, const campaign *c, preview *p, json_t *out)
{
    int bad = 0, shown = 0;
    for (size_t i = 0; i < c->nreleases; i++) {
        const release *r = &c->releases[i];
        if (o->release && strcmp(o->release, r->id) != 0)
            continue;
        int64_t at = first_firing(c, i);
        for (int ch = 0; ch < CHANNEL_COUNT && at >= 0; ch++) {
            if (!(r->channels & (1u << ch)) ||
                (o->channel && strcmp(o->channel, channel_names[ch])))
                continue;
            char err[256] = "";
            json_t *payload = preview_render(p, c, r->id, ch, at * 1000, err, sizeof err);
            if (!payload) {
                fprintf(stderr, "haechi preview: %s on %s: %s\n", r->id, channel_names[ch], err);
                bad = 1;
                continue;
            }
            print_one(o, out, c, r, at, ch, preview_adapter(p, ch), payload);
            json_decref(payload);
            shown++;
        }
    }
    if (!shown && !bad) {
        fprintf(stderr, "haechi preview: nothing matches%s%s%s%s\n", o->release ? " release " : "",
                o->release ? o->release : "", o->channel ? " on channel " : "",
                o->channel ? o->channel : "");
        return 1;
    }
    return bad;
}

static int parse_opts(int argc, char **argv, preview_opts *o)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"release", required_argument, NULL, 'r'},
        {"channel", required_argument, NULL, 'C'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:r:C:j", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': o->config_path = optarg; break;
        case 'r': o->release = optarg; break;
        case 'C': o->channel = optarg; break;
        case 'j': o->as_json = 1; break;
        default: return verb_bad_option("preview", argv);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "haechi preview: expected one FILE (or - for standard input)\n");
        return 2;
    }
    if (o->channel && channel_from_name(o->channel) < 0) {
        char known[128];
        campaign_channel_list((1u << CHANNEL_COUNT) - 1, known, sizeof known);
        fprintf(stderr, "haechi preview: --channel: no channel \"%s\"; known: %s\n", o->channel,
                known);
        return 2;
    }
    o->file = argv[optind];
    /* A config that is not there is no error: preview needs none. */
    const char *fallback = config_default_path();
    if (!o->config_path && fallback && access(fallback, R_OK) == 0)
        o->config_path = fallback;
    return 0;
}

/*
 * Whom the campaign's channels reached at their last post, from the daemon
 * the config's client section names: what an approver should expect of
 * the next release. Without a daemon that answers, one line says so; the
 * preview itself never depends on it.
 */
static int run_preview(int argc, char **argv)
{
    preview_opts o = {0};
    config cfg;
    char err[512];
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc;
    if (load_config(o.config_path, &cfg) != 0) {
        config_release(&cfg);
        return 2;
    }
    rc = 1;
    struct event_base *base = event_base_new();
    campaign *c = base ? load_campaign(o.file, &cfg) : NULL;
    preview *p = c ? preview_new(base, &cfg, c, err, sizeof err) : NULL;
    if (c && !p)
        fprintf(stderr, "haechi preview: %s\n", err);
    if (p) {
        json_t *out = json_array();
        rc = render_all(&o, c, p, out);
        if (!o.as_json && o.config_path && cfg.client_url[0])
            expected_reach_print(&cfg, c);
        if (o.as_json && json_array_size(out) > 0) {
            json_dumpf(out, stdout, JSON_INDENT(2));
            putchar('\n');
        }
        json_decref(out);
    }
    preview_free(p);
    campaign_free(c);
    if (base)
        event_base_free(base);
    config_release(&cfg);
    return rc;
}

const verb verb_preview = {
    .name = "preview",
    .run = run_preview,
    .synopsis = "show the exact payload each channel's adapter would send",
    .help = "usage: haechi preview [--json] [--config PATH] [--release ID] [--channel CH] FILE\n"
            "\n"
            "Renders the campaign FILE (- reads standard input) offline, through the\n"
            "adapter the config names for each channel (a channel the config leaves to\n"
            "the default goes through its own adapter: sns shows each network's HTTP\n"
            "request): for every release, the payload of its first firing on each of\n"
            "its channels. Nothing is sent. With a config whose client section names\n"
            "a daemon, it also shows each network's audience at its last post, the\n"
            "expected reach of the next release.\n"
            "\n"
            "  --json          print [{release, due, channel, adapter, payload}]\n"
            "  --config PATH   which adapters serve which channel, and their settings\n"
            "                  (default: $HAECHI_CONFIG, else /etc/haechi/haechi.json\n"
            "                  when readable, else every channel on the log adapter)\n"
            "  --release ID    only this release\n"
            "  --channel CH    only this channel\n"
            "\n"
            "Exit 0 when every payload rendered, 1 when the campaign is invalid or an\n"
            "adapter could not render (the reason on stderr), 2 for a usage error.\n",
};
