/*
 * cli_audience.c - `haechi audience`: an operator's tool on the host for
 * audience lists (import, show, export, remove, status, list). It talks to
 * Redis directly with the config's redis section, on an event loop of its
 * own, and writes an audit entry (who "cli:$USER") for every change.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audience.h"
#include "campaign.h"
#include "clock.h"
#include "config.h"
#include "isotime.h"
#include "log.h"
#include "store.h"
#include "verbs.h"

#define CONNECT_TIMEOUT_MS 10000
#define PROGRESS_EVERY_MS 250
#define LIST_PAGE 1000
/* A row of a typical file, for sizing the index from a file's size. */
#define BYTES_PER_ROW_GUESS 24

typedef struct cli {
    const char *sub; /* the subcommand */
    char **args;     /* its operands */
    int nargs;
    int replace, strict;
    const char *status_filter, *reason;
    struct event_base *base;
    config cfg;
    rconn *r;
    store *st;
    struct event *timeout;
    char who[128];
    int rc;
    int started;
    /* import */
    FILE *in;
    audience_import *im;
    int tty;
    int64_t started_ms, last_progress_ms;
    /* export */
    long long version, chunk, chunks;
    audience_status only;
    audience_kind kind;
    /* list */
    json_t *ids;
    size_t next_id;
} cli;

static void stop(cli *c, int rc)
{
    c->rc = rc;
    event_base_loopexit(c->base, NULL);
}

static void audited(int stored, void *arg)
{
    cli *c = arg;
    if (!stored)
        fprintf(stderr, "haechi audience: warning: the audit entry was not stored\n");
    event_base_loopexit(c->base, NULL);
}

/* Records ACTION on list TARGET, then ends the loop with exit status RC. */
static void audit_then_stop(cli *c, const char *action, const char *target, int ok, int rc)
{
    c->rc = rc;
    if (store_audit_send(c->st, c->who, "cli", action, target, ok ? 200 : 422, "cli",
                         clock_wall_ms(), audited, c) != 0) {
        fprintf(stderr, "haechi audience: warning: the audit entry was not stored\n");
        event_base_loopexit(c->base, NULL);
    }
}

static void masked(const char *id, char *out, size_t len)
{
    audience_mask(id, out, len);
}

/* ---- import ------------------------------------------------------------------- */

static long read_file(void *src, char *buf, size_t len)
{
    FILE *f = src;
    size_t n = fread(buf, 1, len, f);
    if (n == 0 && ferror(f))
        return -1;
    return (long)n;
}

static void progress(cli *c, const audience_import_result *res, int done)
{
    int64_t now = clock_mono_ms();
    if (!c->tty || (!done && now - c->last_progress_ms < PROGRESS_EVERY_MS))
        return;
    c->last_progress_ms = now;
    double secs = (double)(now - c->started_ms) / 1000.0;
    fprintf(stderr, "\rrows read %lld, rejected %lld, %.0f rows/s   %s", res->rows, res->rejected,
            secs > 0 ? (double)res->rows / secs : 0.0, done ? "\n" : "");
    fflush(stderr);
}

static void print_report(const char *what, const audience_report_row *rows, int shown,
                         long long total)
{
    for (int i = 0; i < shown; i++)
        printf("  line %lld: %s\n", rows[i].line, rows[i].why);
    if (total > shown)
        printf("  ... and %lld more %s\n", total - shown, what);
}

static void imported(const audience_import_result *res, int done, void *arg)
{
    cli *c = arg;
    const char *list = c->args[0];
    progress(c, res, done);
    if (!done)
        return;
    if (res->committed)
        printf("list %s: imported %lld members (version %lld), %lld rejected, %lld duplicates\n",
               list, res->members, res->version, res->rejected, res->duplicates);
    else
        printf("list %s: nothing imported (%lld rows read, %lld rejected, %lld duplicates)\n", list,
               res->rows, res->rejected, res->duplicates);
    if (res->rejected) {
        printf("rejected:\n");
        print_report("rejected", res->rejected_shown, res->nrejected_shown, res->rejected);
    }
    if (res->duplicates) {
        printf("duplicates:\n");
        print_report("duplicates", res->duplicates_shown, res->nduplicates_shown, res->duplicates);
    }
    fflush(stdout);
    if (!res->committed)
        fprintf(stderr, "haechi audience import: list %s: %s; the list in force is unchanged\n",
                list, res->error);
    audit_then_stop(c, "audience-import", list, res->committed, res->committed ? 0 : 1);
}

static int start_import(cli *c)
{
    const char *file = c->args[1];
    struct stat sb;
    audience_import_options opt = {.list = c->args[0],
                                   .replace = c->replace,
                                   .strict = c->strict,
                                   .keep_old_s = AUDIENCE_KEEP_OLD_S_DEFAULT,
                                   .by = c->who};
    c->in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!c->in) {
        fprintf(stderr, "haechi audience import: cannot open %s: %s\n", file, strerror(errno));
        return -1;
    }
    if (fstat(fileno(c->in), &sb) == 0 && S_ISREG(sb.st_mode))
        opt.expected = (long long)sb.st_size / BYTES_PER_ROW_GUESS + 1;
    c->tty = isatty(STDERR_FILENO);
    c->started_ms = clock_mono_ms();
    c->im = audience_import_start(c->base, c->r, c->cfg.redis_prefix, &opt, read_file, c->in,
                                  imported, c);
    if (!c->im) {
        fprintf(stderr, "haechi audience import: out of memory\n");
        return -1;
    }
    return 0;
}

/* ---- show --------------------------------------------------------------------- */

static void shown(const audience_info *info, const char *error, void *arg)
{
    cli *c = arg;
    char when[40] = "never";
    if (error || !info->found) {
        fprintf(stderr, "haechi audience show: %s%s\n",
                error ? "" : "no such list: ", error ? error : c->args[0]);
        stop(c, 1);
        return;
    }
    if (info->updated_at)
        isotime_format_utc(info->updated_at / 1000, when, sizeof when);
    printf("list %s (%s): version %lld, %lld members, updated %s by %s\n", info->id,
           info->kind == AUDIENCE_EMAIL ? "email" : "phone", info->version, info->members, when,
           info->updated_by[0] ? info->updated_by : "-");
    printf("fields:");
    for (size_t i = 0; i < json_array_size(info->fields); i++)
        printf(" %s", json_string_value(json_array_get(info->fields, i)));
    printf("%s\n", json_array_size(info->fields) ? "" : " (none)");
    for (int s = 0; s < AUDIENCE_STATUS_COUNT; s++)
        printf("  %-13s %lld\n", audience_status_name((audience_status)s), info->counts[s]);
    stop(c, 0);
}

/* ---- export ------------------------------------------------------------------- */

static void csv_cell(const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n")) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"')
                putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else {
        fputs(s, stdout);
    }
    putchar(last ? '\n' : ',');
}

static void next_page(cli *c);

static void got_page(const audience_page *p, const char *error, void *arg)
{
    cli *c = arg;
    if (error) {
        fprintf(stderr, "haechi audience export: list %s, chunk %lld: %s\n", c->args[0], c->chunk,
                error);
        stop(c, 1);
        return;
    }
    for (int i = 0; i < p->n; i++) {
        if (c->status_filter && p->status[i] != c->only)
            continue;
        json_t *rec = json_array_get(p->records, (size_t)i);
        for (size_t k = 0; k < json_array_size(rec); k++)
            csv_cell(json_string_value(json_array_get(rec, k)) ?: "", 0);
        csv_cell(audience_status_name(p->status[i]), 1);
    }
    c->chunk++;
    next_page(c);
}

static void next_page(cli *c)
{
    if (c->chunk >= c->chunks) {
        fflush(stdout);
        stop(c, ferror(stdout) ? 1 : 0);
        return;
    }
    int rc = audience_export_page(c->r, c->cfg.redis_prefix, c->args[0], c->version, c->chunk,
                                  got_page, c);
    if (rc != 0) {
        fprintf(stderr, "haechi audience export: %s\n", rconn_refusal(c->r, rc));
        stop(c, 1);
    }
}

static void export_info(const audience_info *info, const char *error, void *arg)
{
    cli *c = arg;
    if (error || !info->found || !info->version) {
        fprintf(stderr, "haechi audience export: %s%s\n",
                error         ? ""
                : info->found ? "nothing imported yet in list "
                              : "no such list: ",
                error ? error : c->args[0]);
        stop(c, 1);
        return;
    }
    c->version = info->version;
    c->chunks = info->chunks;
    printf("%s,name,lang", info->kind == AUDIENCE_EMAIL ? "email" : "phone");
    for (size_t i = 0; i < json_array_size(info->fields); i++)
        printf(",%s", json_string_value(json_array_get(info->fields, i)));
    printf(",status\n");
    next_page(c);
}

/* ---- remove, status ------------------------------------------------------------- */

static void changed(const audience_change *ch, const char *error, void *arg)
{
    cli *c = arg;
    const char *action = strcmp(c->sub, "remove") == 0 ? "audience-remove" : "audience-status";
    char shown_id[AUDIENCE_ID_MAX + 1];
    if (error) {
        masked(c->args[1], shown_id, sizeof shown_id);
        fprintf(stderr, "haechi audience %s: list %s, member %s: %s\n", c->sub, c->args[0],
                shown_id, error);
        audit_then_stop(c, action, c->args[0], 0, 1);
        return;
    }
    masked(ch->id, shown_id, sizeof shown_id);
    if (!ch->changed)
        printf("list %s: member %s already was %s\n", c->args[0], shown_id,
               audience_status_name(ch->old));
    else
        printf("list %s: member %s: %s -> %s\n", c->args[0], shown_id,
               audience_status_name(ch->old),
               strcmp(c->sub, "remove") == 0 ? "removed" : c->args[2]);
    audit_then_stop(c, action, c->args[0], 1, 0);
}

/* ---- list ----------------------------------------------------------------------- */

static void next_list(cli *c);

static void listed_one(const audience_info *info, const char *error, void *arg)
{
    cli *c = arg;
    char when[40] = "-";
    if (error) {
        fprintf(stderr, "haechi audience list: %s\n", error);
        stop(c, 1);
        return;
    }
    if (info->found) {
        if (info->updated_at)
            isotime_format_utc(info->updated_at / 1000, when, sizeof when);
        printf("%-24s %-5s version %-4lld %10lld members  %lld active  updated %s\n", info->id,
               info->kind == AUDIENCE_EMAIL ? "email" : "phone", info->version, info->members,
               info->counts[AUDIENCE_ACTIVE], when);
    }
    next_list(c);
}

static void next_list(cli *c)
{
    if (c->next_id >= json_array_size(c->ids)) {
        stop(c, 0);
        return;
    }
    const char *id = json_string_value(json_object_get(json_array_get(c->ids, c->next_id++), "id"));
    int rc = audience_get_info(c->r, c->cfg.redis_prefix, id, listed_one, c);
    if (rc != 0) {
        fprintf(stderr, "haechi audience list: %s\n", rconn_refusal(c->r, rc));
        stop(c, 1);
    }
}

static void got_ids(json_t *ids, long long total, const char *error, void *arg)
{
    cli *c = arg;
    if (error) {
        fprintf(stderr, "haechi audience list: %s\n", error);
        stop(c, 1);
        return;
    }
    if (total == 0)
        printf("no audience lists\n");
    else if (total > LIST_PAGE)
        printf("(the first %d of %lld lists)\n", LIST_PAGE, total);
    c->ids = json_incref(ids);
    next_list(c);
}

/* ---- running a subcommand once Redis answers ------------------------------------- */

static void ready(void *arg)
{
    cli *c = arg;
    int rc = 0;
    if (c->started)
        return;
    c->started = 1;
    event_del(c->timeout);
    const char *list = c->nargs > 0 ? c->args[0] : "";
    const char *pre = c->cfg.redis_prefix;
    if (!strcmp(c->sub, "import")) {
        if (start_import(c) != 0)
            stop(c, 1);
        return;
    } else if (!strcmp(c->sub, "show")) {
        rc = audience_get_info(c->r, pre, list, shown, c);
    } else if (!strcmp(c->sub, "export")) {
        rc = audience_get_info(c->r, pre, list, export_info, c);
    } else if (!strcmp(c->sub, "remove")) {
        rc = audience_set_status(c->r, pre, list, c->args[1], AUDIENCE_REMOVED, c->who,
                                 c->reason ? c->reason : "removed with `haechi audience remove`",
                                 changed, c);
    } else if (!strcmp(c->sub, "status")) {
        rc = audience_set_status(c->r, pre, list, c->args[1],
                                 (audience_status)audience_status_parse(c->args[2]), c->who,
                                 c->reason ? c->reason : "", changed, c);
    } else {
        rc = audience_list_ids(c->r, pre, 0, LIST_PAGE, got_ids, c);
    }
    if (rc != 0) {
        fprintf(stderr, "haechi audience %s: %s\n", c->sub, rconn_refusal(c->r, rc));
        stop(c, 1);
    }
}

static void timed_out(evutil_socket_t fd, short what, void *arg)
{
    cli *c = arg;
    (void)fd;
    (void)what;
    fprintf(stderr, "haechi audience %s: cannot reach redis at %s: %s\n", c->sub,
            c->cfg.redis_unix[0] ? c->cfg.redis_unix : c->cfg.redis_host, rconn_state(c->r));
    stop(c, 1);
}

/* ---- options ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    int nargs;
    const char *usage;
} subs[] = {
    {"import", 2, "import LIST FILE [--replace] [--strict]"}, {"show", 1, "show LIST"},
    {"export", 1, "export LIST [--status STATUS]"},           {"remove", 2, "remove LIST ID"},
    {"status", 3, "status LIST ID STATUS [--reason TEXT]"},   {"list", 0, "list"},
};

static int check_operands(cli *c)
{
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(subs[i].name, c->sub) != 0)
            continue;
        if (c->nargs != subs[i].nargs) {
            fprintf(stderr, "haechi audience: usage: haechi audience %s\n", subs[i].usage);
            return 2;
        }
        if (c->nargs > 0 && !campaign_is_slug(c->args[0])) {
            fprintf(stderr,
                    "haechi audience %s: \"%s\" is not a list id: ids are slugs of a-z, 0-9 "
                    "and single hyphens\n",
                    c->sub, c->args[0]);
            return 2;
        }
        if (!strcmp(c->sub, "status")) {
            int s = audience_status_parse(c->args[2]);
            if (s < 0 || s == AUDIENCE_REMOVED) {
                fprintf(stderr,
                        "haechi audience status: \"%s\" is not a status: active, unsubscribed, "
                        "blocked, bounced or suppressed (`audience remove` removes)\n",
                        c->args[2]);
                return 2;
            }
        }
        if (c->status_filter && audience_status_parse(c->status_filter) < 0) {
            fprintf(stderr,
                    "haechi audience export: --status \"%s\" is not a status: active, "
                    "unsubscribed, blocked, bounced, suppressed or removed\n",
                    c->status_filter);
            return 2;
        }
        if (c->status_filter)
            c->only = (audience_status)audience_status_parse(c->status_filter);
        return 0;
    }
    fprintf(stderr,
            "haechi audience: unknown subcommand \"%s\": import, show, export, remove, status "
            "or list\n",
            c->sub);
    return 2;
}

static int load_config(cli *c, const char *path, int explicit_path)
{
    config_defaults(&c->cfg);
    if (!path || (!explicit_path && access(path, R_OK) != 0))
        return 0;
    diag_list errs;
    diag_list_init(&errs);
    if (config_load_file(path, &c->cfg, &errs) != 0) {
        const char *where = errs.len ? errs.items[0].path : "";
        fprintf(stderr, "haechi audience: config %s is invalid: %s%s%s\n", path, where,
                where[0] ? ": " : "", errs.len ? errs.items[0].message : "");
        diag_list_release(&errs);
        return -1;
    }
    diag_list_release(&errs);
    return 0;
}

static void set_who(cli *c)
{
    const char *user = getenv("USER");
    if (!user || !*user) {
        struct passwd *pw = getpwuid(getuid());
        user = pw ? pw->pw_name : "unknown";
    }
    snprintf(c->who, sizeof c->who, "cli:%s", user);
}

static int run_audience(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"replace", no_argument, NULL, 'R'},
        {"strict", no_argument, NULL, 'S'},       {"status", required_argument, NULL, 's'},
        {"reason", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0},
    };
    cli c = {.rc = 1};
    const char *config_path = config_default_path();
    int opt, explicit_path = 0, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            explicit_path = 1;
            break;
        case 'R': c.replace = 1; break;
        case 'S': c.strict = 1; break;
        case 's': c.status_filter = optarg; break;
        case 'r': c.reason = optarg; break;
        default: return verb_bad_option("audience", argv);
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "haechi audience: expected a subcommand: import, show, export, remove, "
                        "status or list\n");
        return 2;
    }
    c.sub = argv[optind];
    c.args = argv + optind + 1;
    c.nargs = argc - optind - 1;
    if ((rc = check_operands(&c)) != 0)
        return rc;
    if (load_config(&c, config_path, explicit_path) != 0) {
        config_release(&c.cfg);
        return 2;
    }
    set_who(&c);
    log_set_level(LOG_WARN);
    c.base = event_base_new();
    rconn_options ro;
    config_rconn_options(&c.cfg, "audience", &ro);
    c.r = c.base ? rconn_new(c.base, &ro) : NULL;
    c.st = c.r ? store_new(c.r, c.cfg.redis_prefix) : NULL;
    c.timeout = c.base ? evtimer_new(c.base, timed_out, &c) : NULL;
    if (!c.st || !c.timeout) {
        fprintf(stderr, "haechi audience: out of memory\n");
        c.rc = 1;
        goto out;
    }
    struct timeval tv = {CONNECT_TIMEOUT_MS / 1000, 0};
    evtimer_add(c.timeout, &tv);
    rconn_on_ready(c.r, ready, &c);
    event_base_dispatch(c.base);
out:
    audience_import_free(c.im);
    if (c.in && c.in != stdin)
        fclose(c.in);
    json_decref(c.ids);
    if (c.timeout)
        event_free(c.timeout);
    store_free(c.st);
    rconn_free(c.r);
    if (c.base)
        event_base_free(c.base);
    config_release(&c.cfg);
    return c.rc;
}

const verb verb_audience = {
    .name = "audience",
    .run = run_audience,
    .synopsis = "audience lists in Redis: import, show, export, remove, status, list",
    .help = "usage: haechi audience SUBCOMMAND [--config PATH] ...\n"
            "\n"
            "An operator's tool on the host: talks to Redis with the config's redis\n"
            "section (--config, else $HAECHI_CONFIG) and records every change in the\n"
            "audit log as cli:$USER.\n"
            "\n"
            "  import LIST FILE [--replace] [--strict]\n"
            "        A CSV (header row: phone or email, name, lang, status, custom\n"
            "        columns) into a new version of LIST, put in force at the end in one\n"
            "        step. FILE - reads stdin. Without --replace the members in force are\n"
            "        kept and the file's added (its ids already there are duplicates).\n"
            "        Rows with errors are reported with line and reason and skipped;\n"
            "        --strict imports nothing when any row is rejected.\n"
            "  show LIST             version, members by status, fields, last change\n"
            "  export LIST [--status STATUS]\n"
            "        the members in force as CSV on stdout, with their status\n"
            "  remove LIST ID        the member is not sent to until imported again\n"
            "  status LIST ID STATUS [--reason TEXT]\n"
            "        active, unsubscribed, blocked, bounced or suppressed\n"
            "  list                  the lists with their versions and sizes\n"
            "\n"
            "Exit status: 0 done (import: committed), 1 refused or failed, 2 usage.\n",
};
