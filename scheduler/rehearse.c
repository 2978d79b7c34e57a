/*
 * rehearse.c - `haechi rehearse FILE`: runs a campaign's whole window on a
 * virtual clock against a private, throwaway redis-server, with every
 * channel routed to the log adapter, and prints what would go out when.
 *
 * The clock jumps from one due time to the next; between jumps the
 * scheduler and the worker run until nothing is in flight, so every
 * release is claimed, queued and "sent" exactly as the daemon would.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adapter.h"
#include "campaign.h"
#include "clock.h"
#include "config.h"
#include "expected_reach.h"
#include "fileio.h"
#include "isotime.h"
#include "log.h"
#include "node.h"
#include "preview.h"
#include "releases.h"
#include "render.h"
#include "verbs.h"

#define REDIS_START_MS 10000
#define STEP_LIMIT 1000000

typedef struct rehearsal {
    struct event_base *base;
    node n;
    config cfg;
    campaign *c;
    struct event *tick;
    int armed;
    int arm_sent;
    int finished;
    int failed; /* something went wrong running it (not a release failing) */
    long long steps;
    char error[256];
    json_t *result; /* releases_to_json at the end */
    int as_json;
    preview *pv; /* the configured adapters, for what each would send */
} rehearsal;

/* ---- the private redis-server -------------------------------------------- */

static pid_t start_redis(const char *dir, char *sock, size_t socklen)
{
    snprintf(sock, socklen, "%s/redis.sock", dir);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* The child: a redis-server of our own, gone with the directory. */
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
    }
    execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm",
           "700", "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
           (char *)NULL);
    _exit(127);
}

static int wait_for_socket(const char *sock, pid_t pid)
{
    int64_t deadline = clock_mono_ms() + REDIS_START_MS;
    struct stat st;
    while (clock_mono_ms() < deadline) {
        if (stat(sock, &st) == 0)
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void stop_redis(pid_t pid, const char *dir)
{
    char path[4200];
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    snprintf(path, sizeof path, "%s/redis.sock", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/dump.rdb", dir);
    unlink(path);
    rmdir(dir);
}

/* ---- driving the clock ---------------------------------------------------- */

static void collect_page(rehearsal *r, const char *cursor);

/* The results come a page at a time; each page is merged into the first. */
static void collected(redisReply *reply, const char *error, void *arg)
{
    rehearsal *r = arg;
    json_t *page = releases_to_json(reply);
    if (!page) {
        snprintf(r->error, sizeof r->error, "could not read the results: %s",
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str
                 : error                                   ? error
                                                           : "an answer of the wrong shape");
        r->failed = 1;
        event_base_loopexit(r->base, NULL);
        return;
    }
    if (r->result) {
        releases_merge(r->result, page);
        json_decref(page);
    } else {
        r->result = page;
    }
    const char *next = json_string_value(json_object_get(r->result, "next_cursor"));
    if (next)
        collect_page(r, next);
    else
        event_base_loopexit(r->base, NULL);
}

static void collect_page(rehearsal *r, const char *cursor)
{
    if (engine_releases(r->n.e, r->c->id, 1, cursor, 10000, collected, r) != 0) {
        snprintf(r->error, sizeof r->error, "redis went away");
        r->failed = 1;
        event_base_loopexit(r->base, NULL);
    }
}

static void collect(rehearsal *r)
{
    r->finished = 1;
    collect_page(r, "0");
}

/* Everything queued so far has an outcome, and nothing is in flight. */
static int quiet_now(rehearsal *r)
{
    const sched_stats *s = sched_get_stats(r->n.sched);
    const worker_stats *w = worker_get_stats(r->n.worker);
    long long outcomes = w->sent + w->retried + w->dead + w->held + w->cancelled;
    return !sched_busy(r->n.sched) && worker_in_flight(r->n.worker) == 0 && outcomes >= s->items &&
           s->claims > 0;
}

static void armed_cb(redisReply *reply, const char *error, void *arg)
{
    rehearsal *r = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        snprintf(r->error, sizeof r->error, "arming failed: %s", reply ? reply->str : error);
        r->failed = 1;
        event_base_loopexit(r->base, NULL);
        return;
    }
    r->armed = 1;
    sched_kick(r->n.sched);
}

/* Stored first, as `submit` would, so that workers find the document. */
static void stored_cb(const store_result *res, void *arg)
{
    rehearsal *r = arg;
    if (res->code != STORE_OK ||
        engine_arm(r->n.e, r->c, res->version, "scheduled", clock_wall_ms(), armed_cb, r) != 0) {
        snprintf(r->error, sizeof r->error, "storing the campaign failed: %s",
                 res->error ? res->error : "redis went away");
        r->failed = 1;
        event_base_loopexit(r->base, NULL);
    }
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    rehearsal *r = arg;
    (void)fd;
    (void)what;
    if (r->finished || r->failed)
        return;
    if (!r->arm_sent) {
        if (!rconn_ready(r->n.redis))
            return;
        char *doc = json_dumps(r->c->doc, JSON_COMPACT);
        store_submission sub = {
            .id = r->c->id,
            .doc = doc ? doc : "{}",
            .title = json_string_value(json_object_get(r->c->doc, "title")),
            .owner = json_string_value(json_object_get(r->c->doc, "owner")),
            .by = "rehearsal",
            .client = "local",
            .at_ms = clock_wall_ms(),
        };
        if (store_submit(r->n.st, &sub, stored_cb, r) == 0)
            r->arm_sent = 1;
        free(doc);
        return;
    }
    if (!r->armed || !quiet_now(r))
        return;
    int64_t next = sched_get_stats(r->n.sched)->next_due_ms;
    if (next < 0) {
        collect(r);
        return;
    }
    if (++r->steps > STEP_LIMIT) {
        snprintf(r->error, sizeof r->error, "more than %d clock steps; giving up", STEP_LIMIT);
        r->failed = 1;
        event_base_loopexit(r->base, NULL);
        return;
    }
    clock_set_virtual(next);
    sched_kick(r->n.sched);
}

/* ---- printing ------------------------------------------------------------- */

static const char *channel_summary(const rehearsal *r, const char *release_id, const char *ch,
                                   char *buf, size_t len)
{
    adapter_item item = {.item_id = "",
                         .campaign_id = r->c->id,
                         .version = 1,
                         .release_id = release_id,
                         .channel = ch,
                         .target = "all",
                         .due_ms = r->c->start * 1000,
                         .attempt = 1,
                         .campaign = r->c->doc,
                         .zone = r->c->zone};
    json_t *m = render_message(&item);
    render_summary(m, buf, len);
    json_decref(m);
    return buf;
}

/* What the channel's configured adapter would send for this firing. */
static void add_payload(const rehearsal *r, json_t *line, const char *rel, const char *ch,
                        const char *due)
{
    isotime t;
    char why[256] = "";
    int id = channel_from_name(ch);
    if (id < 0 || isotime_parse(due, &t, why, sizeof why) != 0)
        return;
    int64_t at = isotime_instant(&t, r->c->zone, NULL);
    json_t *payload = preview_render(r->pv, r->c, rel, id, at * 1000, why, sizeof why);
    json_object_set_new(line, "adapter", json_string(preview_adapter(r->pv, id)));
    json_object_set_new(line, "payload", payload ? payload : json_pack("{s:s}", "error", why));
}

/* Prints one line per (release firing, channel); returns how many failed. */
static int print_result(const rehearsal *r)
{
    json_t *list = json_object_get(r->result, "releases"), *f;
    size_t i;
    int bad = 0;
    json_array_foreach(list, i, f)
    {
        /* Channels in their fixed order, so the output is stable. */
        for (int id = 0; id < CHANNEL_COUNT; id++) {
            const char *ch = channel_names[id];
            json_t *rec = json_object_get(json_object_get(f, "channels"), ch);
            if (!rec)
                continue;
            const char *state = json_string_value(json_object_get(rec, "state"));
            const char *rel = json_string_value(json_object_get(f, "release"));
            const char *due = json_string_value(json_object_get(f, "due"));
            const char *reason = json_string_value(json_object_get(rec, "reason"));
            char summary[512];
            int ok = state && strcmp(state, "sent") == 0;
            int held = state && strcmp(state, "held") == 0;
            if (!ok && !held)
                bad++;
            channel_summary(r, rel, ch, summary, sizeof summary);
            if (r->as_json) {
                json_t *line =
                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "time", due, "channel", ch, "release",
                              rel, "state", state ? state : "?", "summary", summary);
                if (reason)
                    json_object_set_new(line, "reason", json_string(reason));
                add_payload(r, line, rel, ch, due);
                char *text = json_dumps(line, JSON_COMPACT);
                puts(text);
                free(text);
                json_decref(line);
            } else {
                char when[32];
                snprintf(when, sizeof when, "%.10s %.5s", due, due + 11);
                printf("%s  %-10s %-8s %-22s %s%s%s%s\n", when, ch, state ? state : "?", rel,
                       summary, reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
            }
        }
    }
    return bad;
}

/* ---- the verb -------------------------------------------------------------- */

static int load_campaign(const char *file, const config *cfg, campaign **out)
{
    char *buf, why[256];
    size_t len;
    int over;
    diag_list errs;
    if (file_read_capped(file, cfg->limits.max_bytes, &buf, &len, &over, why, sizeof why) != 0) {
        fprintf(stderr, "haechi rehearse: %s\n", why);
        return 2;
    }
    diag_list_init(&errs);
    if (over)
        diag_add(&errs, "", "size", "the document is over the limit of %zu bytes",
                 cfg->limits.max_bytes);
    else
        *out = campaign_parse(buf, len, &cfg->limits, &errs, NULL);
    free(buf);
    if (diag_any(&errs)) {
        diag_print(&errs, stdout);
        fprintf(stderr, "haechi rehearse: %s is invalid; `haechi validate` explains\n", file);
        diag_list_release(&errs);
        return 1;
    }
    diag_list_release(&errs);
    return 0;
}

static int run_rehearse(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"config", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    rehearsal r = {0};
    const char *config_path = NULL;
    int opt, rc = 1;
    char dir[] = "/tmp/haechi-rehearse-XXXXXX", sock[256], err[512];
    pid_t redis = -1;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "jc:", opts, NULL)) != -1) {
        switch (opt) {
        case 'j': r.as_json = 1; break;
        case 'c': config_path = optarg; break;
        default: return verb_bad_option("rehearse", argv);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "haechi rehearse: expected one campaign FILE\n");
        return 2;
    }
    config_defaults(&r.cfg);
    if (config_path) {
        diag_list errs;
        diag_list_init(&errs);
        r.cfg.for_client = 1; /* no daemon secrets needed */
        if (config_load_file(config_path, &r.cfg, &errs) != 0) {
            fprintf(stderr, "haechi rehearse: config %s is invalid:\n", config_path);
            diag_print(&errs, stderr);
            diag_list_release(&errs);
            config_release(&r.cfg);
            return 2;
        }
        diag_list_release(&errs);
    }
    rc = load_campaign(argv[optind], &r.cfg, &r.c);
    if (rc != 0)
        goto out_config;
    rc = 1;
    /* What the configured adapters would send is rendered before every
     * channel is rerouted below. */
    r.base = event_base_new();
    r.pv = r.base ? preview_new(r.base, &r.cfg, r.c, err, sizeof err) : NULL;
    if (!r.pv) {
        fprintf(stderr, "haechi rehearse: %s\n", r.base ? err : "out of memory");
        goto out_config;
    }

    /* Every channel goes to the log adapter; quiet hours and expiries stay. */
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        snprintf(r.cfg.channels[ch].adapter, sizeof r.cfg.channels[ch].adapter, "log");
        r.cfg.channels[ch].desc = adapter_find("log");
        free(r.cfg.channels[ch].adapter_conf);
        r.cfg.channels[ch].adapter_conf = NULL;
    }
    log_set_level(LOG_WARN);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "haechi rehearse: cannot make a temporary directory: %s\n",
                strerror(errno));
        goto out_config;
    }
    redis = start_redis(dir, sock, sizeof sock);
    if (redis < 0 || wait_for_socket(sock, redis) != 0) {
        fprintf(stderr, "haechi rehearse: could not start redis-server (is it installed?)\n");
        goto out_redis;
    }
    snprintf(r.cfg.redis_unix, sizeof r.cfg.redis_unix, "%s", sock);
    snprintf(r.cfg.redis_prefix, sizeof r.cfg.redis_prefix, "rehearsal");
    /* A second before the window opens. */
    clock_use_virtual((r.c->start - 1) * 1000);

    signal(SIGPIPE, SIG_IGN);
    if (node_start(&r.n, r.base, &r.cfg, ROLE_SCHEDULER | ROLE_WORKER, err, sizeof err) != 0) {
        fprintf(stderr, "haechi rehearse: cannot start: %s\n", err);
        goto out_base;
    }
    r.tick = event_new(r.base, -1, EV_PERSIST, tick_cb, &r);
    struct timeval ms = {0, 1000};
    event_add(r.tick, &ms);
    event_base_dispatch(r.base);

    if (r.failed || !r.result) {
        fprintf(stderr, "haechi rehearse: %s\n", r.error[0] ? r.error : "interrupted");
    } else {
        int bad = print_result(&r);
        if (!r.as_json)
            printf("%s: %zu releases in the window; %d deliver%s did not go out\n", r.c->id,
                   r.c->occurrences, bad, bad == 1 ? "y" : "ies");
        if (!r.as_json && config_path && r.cfg.client_url[0])
            expected_reach_print(&r.cfg, r.c);
        rc = bad ? 1 : 0;
    }
    event_free(r.tick);
    node_stop(&r.n);
out_base:
out_redis:
    stop_redis(redis, dir);
out_config:
    preview_free(r.pv);
    if (r.base)
        event_base_free(r.base);
    json_decref(r.result);
    campaign_free(r.c);
    config_release(&r.cfg);
    return rc;
}

const verb verb_rehearse = {
    .name = "rehearse",
    .run = run_rehearse,
    .synopsis = "run a campaign's whole window on a virtual clock, offline",
    .help = "usage: haechi rehearse [--json] [--config PATH] FILE\n"
            "\n"
            "Runs the campaign FILE through the real scheduler and workers against a\n"
            "private redis-server (started and removed by the command), with the clock\n"
            "jumping from one due time to the next and every channel routed to the log\n"
            "adapter. Prints one line per release and channel: local time, channel,\n"
            "outcome, release, and a summary of what would be sent. Quiet hours and\n"
            "expiries from --config apply as in the daemon.\n"
            "\n"
            "  --json         one JSON object per line: time, channel, release, state,\n"
            "                 summary (and reason when there is one), and the adapter\n"
            "                 --config names for the channel with the payload it would\n"
            "                 send (as `haechi preview` shows it)\n"
            "  --config PATH  take channel rules (quiet hours, expiries) and limits from PATH;\n"
            "                 when PATH has a client section, also print the expected reach\n"
            "                 the daemon there knows: a list's active members, each\n"
            "                 network's audience at its last post (as `haechi preview` does)\n"
            "\n"
            "Exit status: 0 when every delivery went out (or was held on purpose),\n"
            "1 when any failed or the campaign is invalid, 2 on a usage error.\n",
};
