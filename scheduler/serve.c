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

#include "api.h"
#include "config.h"
#include "log.h"
#include "rconn.h"
#include "store.h"
#include "verbs.h"

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    log_info("signal %d: shutting down", (int)sig);
    event_base_loopexit(arg, NULL);
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

static int run_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"ready-file", required_argument, NULL, 'r'},
        {"verbose", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = config_default_path(), *ready_file = NULL;
    int opt, rc = 1;
    config cfg;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:r:v", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'r': ready_file = optarg; break;
        case 'v': log_set_level(LOG_DEBUG); break;
        default:
            return verb_bad_option("serve", argv);
        }
    }
    if (optind != argc) {
        fprintf(stderr, "haechi serve: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (load_config(config_path, &cfg) != 0)
        return 1;
    if (cfg.ntokens == 0)
        log_warn("no tokens configured: only /healthz will answer");

    signal(SIGPIPE, SIG_IGN);
    srandom((unsigned)getpid());
    struct event_base *base = event_base_new();
    rconn_options ro = {
        .host = cfg.redis_host,
        .port = cfg.redis_port,
        .unix_path = cfg.redis_unix,
        .password = cfg.redis_password,
        .timeout_ms = cfg.redis_command_timeout_ms,
        .name = "store",
    };
    rconn *redis = base ? rconn_new(base, &ro) : NULL;
    store *st = redis ? store_new(redis, cfg.redis_prefix) : NULL;
    api *a = st ? api_new(base, &cfg, redis, st) : NULL;
    struct event *sigint = base ? evsignal_new(base, SIGINT, on_signal, base) : NULL;
    struct event *sigterm = base ? evsignal_new(base, SIGTERM, on_signal, base) : NULL;
    int port = 0;

    if (!a || !sigint || !sigterm) {
        fprintf(stderr, "haechi serve: out of memory setting up\n");
        goto out;
    }
    if (api_listen(a, cfg.listen_host, cfg.listen_port, &port) != 0) {
        fprintf(stderr, "haechi serve: cannot listen on %s:%d: %s\n", cfg.listen_host,
                cfg.listen_port, strerror(errno));
        goto out;
    }
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    if (cfg.redis_unix[0])
        log_info("listening on http://%s:%d; redis at %s, key prefix %s", cfg.listen_host,
                 port, cfg.redis_unix, cfg.redis_prefix);
    else
        log_info("listening on http://%s:%d; redis at %s:%d, key prefix %s", cfg.listen_host,
                 port, cfg.redis_host, cfg.redis_port, cfg.redis_prefix);
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
    api_free(a);
    rconn_free(redis);
    store_free(st);
    if (base)
        event_base_free(base);
    config_release(&cfg);
    return rc;
}

const verb verb_serve = {
    .name = "serve",
    .run = run_serve,
    .synopsis = "run the daemon: HTTP API on top of Redis",
    .help = "usage: haechi serve [--config PATH] [--ready-file PATH] [--verbose]\n"
            "\n"
            "Runs the daemon until SIGINT or SIGTERM. It keeps running while Redis is\n"
            "away, answers /healthz and changes with 503 meanwhile, and reconnects by\n"
            "itself.\n"
            "\n"
            "  --config PATH      the config file (default: $HAECHI_CONFIG, else\n"
            "                     /etc/haechi/haechi.json, else built-in defaults);\n"
            "                     a bad config is reported and the daemon does not start\n"
            "  --ready-file PATH  once listening, write the API's URL to PATH\n"
            "                     (useful with \"listen\": \"127.0.0.1:0\")\n"
            "  --verbose          debug logging\n",
};
