/*
 * serve.c - `haechi serve`: the daemon. Loads the config (and refuses to
 * start on a bad one), connects to Redis (and keeps running while Redis is
 * away), and serves the HTTP API until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "isotime.h"
#include "log.h"
#include "node.h"
#include "verbs.h"

typedef struct serve_run {
    struct event_base *base;
    node *n;
    int signals;
} serve_run;

static void drained(void *arg)
{
    serve_run *run = arg;
    log_info("drained: shutting down");
    event_base_loopexit(run->base, NULL);
}

/* The first signal drains (sends in flight finish or are cancelled at
 * engine.drain_timeout_ms); a second one stops at once. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    serve_run *run = arg;
    (void)what;
    if (run->signals++ == 0) {
        log_info("signal %d: stopping; sends in flight may finish", (int)sig);
        node_drain(run->n, drained, run);
        return;
    }
    log_warn("signal %d again: shutting down now", (int)sig);
    event_base_loopexit(run->base, NULL);
}

/* Tells whoever started us (make run, the tests) where we listen, once we do. */
static int write_ready_file(const char *path, const char *host, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "http://%s:%d\n", host, port);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static const char *port_text(int port)
{
    static char buf[16];
    snprintf(buf, sizeof buf, "%d", port);
    return buf;
}

static int load_config(const char *path, config *cfg)
{
    diag_list errs;
    config_defaults(cfg);
    if (!path)
        return 0;
    diag_list_init(&errs);
    if (config_load_file(path, cfg, &errs) != 0) {
        fprintf(stderr, "haechi serve: config %s is invalid; not starting:\n", path);
        diag_print(&errs, stderr);
        diag_list_release(&errs);
        config_release(cfg);
        return -1;
    }
    diag_list_release(&errs);
    return 0;
}

/* In a test environment with a virtual clock, time starts where the
 * cluster's shared clock is (the scheduler follows it from then on). A
 * demo clock needs no one to move it: each process computes it alike. */
static void start_clock(const config *cfg)
{
    if (cfg->virtual_clock) {
        clock_use_virtual(0);
        log_warn("virtual clock: time moves only through POST /api/v1/test/clock");
    } else if (cfg->demo.on) {
        clock_use_demo(cfg->demo.start_ms,
                       cfg->demo.has_epoch ? cfg->demo.epoch_ms : clock_wall_ms(), cfg->demo.speed);
        char now[64];
        isotime_format_utc(clock_wall_s(), now, sizeof now);
        log_warn("demo clock: it reads %s and runs %d times faster than real time", now,
                 cfg->demo.speed);
    }
}

static int run_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"ready-file", required_argument, NULL, 'r'},
        {"roles", required_argument, NULL, 'R'},
        {"verbose", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = config_default_path(), *ready_file = NULL;
    unsigned roles = ROLE_ALL;
    int opt, rc = 1;
    char err[512];
    config cfg;
    node n = {0};

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:r:R:v", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'r': ready_file = optarg; break;
        case 'R':
            if (node_parse_roles(optarg, &roles, err, sizeof err) != 0) {
                fprintf(stderr, "haechi serve: --roles: %s\n", err);
                return 2;
            }
            break;
        case 'v': log_set_level(LOG_DEBUG); break;
        default: return verb_bad_option("serve", argv);
        }
    }
    if (optind != argc) {
        fprintf(stderr, "haechi serve: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (load_config(config_path, &cfg) != 0)
        return 1;
    if (cfg.ntokens == 0 && (roles & ROLE_API))
        log_warn("no tokens configured: only /healthz will answer");
    start_clock(&cfg);

    signal(SIGPIPE, SIG_IGN);
    srandom((unsigned)getpid());
    /* Releases are due to the millisecond: timers must not be rounded up
     * to epoll's millisecond ticks (libevent then uses a timerfd). */
    struct event_config *ecfg = event_config_new();
    if (ecfg)
        event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    struct event_base *base = ecfg ? event_base_new_with_config(ecfg) : NULL;
    if (ecfg)
        event_config_free(ecfg);
    serve_run run = {.base = base, .n = &n};
    struct event *sigint = base ? evsignal_new(base, SIGINT, on_signal, &run) : NULL;
    struct event *sigterm = base ? evsignal_new(base, SIGTERM, on_signal, &run) : NULL;
    int port = 0;

    if (!sigint || !sigterm) {
        fprintf(stderr, "haechi serve: out of memory setting up\n");
        goto out;
    }
    if (node_start(&n, base, &cfg, roles, err, sizeof err) != 0) {
        fprintf(stderr, "haechi serve: cannot start: %s\n", err);
        goto out;
    }
    if (n.api && api_listen(n.api, cfg.listen_host, cfg.listen_port, &port) != 0) {
        fprintf(stderr, "haechi serve: cannot listen on %s:%d: %s\n", cfg.listen_host,
                cfg.listen_port, strerror(errno));
        goto out;
    }
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    log_info("roles:%s%s%s; redis at %s%s%s, key prefix %s", (roles & ROLE_API) ? " api" : "",
             (roles & ROLE_SCHEDULER) ? " scheduler" : "", (roles & ROLE_WORKER) ? " worker" : "",
             cfg.redis_unix[0] ? cfg.redis_unix : cfg.redis_host, cfg.redis_unix[0] ? "" : ":",
             cfg.redis_unix[0] ? "" : port_text(cfg.redis_port), cfg.redis_prefix);
    if (n.api)
        log_info("listening on http://%s:%d", cfg.listen_host, port);
    if (ready_file && write_ready_file(ready_file, cfg.listen_host, port) != 0) {
        fprintf(stderr, "haechi serve: cannot write %s: %s\n", ready_file, strerror(errno));
        goto out;
    }
    event_base_dispatch(base);
    rc = 0;
out:
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    node_stop(&n);
    if (base)
        event_base_free(base);
    config_release(&cfg);
    return rc;
}

const verb verb_serve = {
    .name = "serve",
    .run = run_serve,
    .synopsis = "run the daemon: API, scheduler and workers on Redis",
    .help = "usage: haechi serve [--config PATH] [--roles LIST] [--ready-file PATH]\n"
            "                    [--verbose]\n"
            "\n"
            "Runs the daemon until SIGINT or SIGTERM. On the first signal it stops\n"
            "taking work and lets sends in flight finish (engine.drain_timeout_ms),\n"
            "a second one ends it at once. It keeps running while Redis is\n"
            "away, answers /healthz and changes with 503 meanwhile, and reconnects by\n"
            "itself.\n"
            "\n"
            "  --roles LIST       what this process does, any of api,scheduler,worker\n"
            "                     (default all three); many processes may share one\n"
            "                     Redis, each release still fires once\n"
            "  --config PATH      the config file (default: $HAECHI_CONFIG, else\n"
            "                     /etc/haechi/haechi.json, else built-in defaults);\n"
            "                     a bad config is reported and the daemon does not start\n"
            "  --ready-file PATH  once listening, write the API's URL to PATH\n"
            "                     (useful with \"listen\": \"127.0.0.1:0\")\n"
            "  --verbose          debug logging\n",
};
