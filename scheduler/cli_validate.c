/*
 * cli_validate.c - `haechi validate FILE`: checks a campaign file offline
 * and prints every error, or a summary of what it would release.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "campaign.h"
#include "channel_check.h"
#include "config.h"
#include "fileio.h"
#include "isotime.h"
#include "verbs.h"

static void print_release(const campaign *c, size_t i, int idw)
{
    const release *r = &c->releases[i];
    json_t *item =
        json_array_get(json_object_get(json_object_get(c->doc, "schedule"), "releases"), i);
    char when[128], channels[128];

    if (r->kind == RELEASE_AT)
        isotime_format_human(r->at, c->zone, when, sizeof when);
    else
        snprintf(when, sizeof when, "cron \"%s\"",
                 json_string_value(json_object_get(item, "cron")));
    campaign_channel_list(r->channels, channels, sizeof channels);
    printf("    %-*s %-36s %-32s %zu\n", idw, r->id, when, channels, r->occurrences);
}

static void print_summary(const char *file, const campaign *c)
{
    char a[64], b[64], channels[128];

    campaign_channel_list(c->channels, channels, sizeof channels);
    printf("%s: valid\n", file);
    printf("  id        %s\n", c->id);
    printf("  title     %s\n", json_string_value(json_object_get(c->doc, "title")));
    printf("  channels  %s\n", channels);
    isotime_format_human(c->start, c->zone, a, sizeof a);
    isotime_format_human(c->end, c->zone, b, sizeof b);
    printf("  window    %s to %s, %s\n", a, b, tz_name(c->zone));
    printf("  releases  %zu in the window, from %zu release rule%s\n", c->occurrences, c->nreleases,
           c->nreleases == 1 ? "" : "s");
    isotime_format_human(c->first, c->zone, a, sizeof a);
    isotime_format_human(c->last, c->zone, b, sizeof b);
    printf("  first     %s\n", a);
    printf("  last      %s\n", b);
    /* The id column is as wide as the longest id. */
    int idw = 7;
    for (size_t i = 0; i < c->nreleases; i++)
        if ((int)strlen(c->releases[i].id) > idw)
            idw = (int)strlen(c->releases[i].id);
    printf("    %-*s %-36s %-32s %s\n", idw, "release", "when", "channels", "firings");
    for (size_t i = 0; i < c->nreleases; i++)
        print_release(c, i, idw);
}

static json_t *summary_json(const campaign *c)
{
    char a[64], b[64], first[64], last[64];
    json_t *channels = json_array();
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        if (c->channels & (1u << ch))
            json_array_append_new(channels, json_string(channel_names[ch]));
    isotime_format_rfc3339(c->start, c->zone, a, sizeof a);
    isotime_format_rfc3339(c->end, c->zone, b, sizeof b);
    isotime_format_rfc3339(c->first, c->zone, first, sizeof first);
    isotime_format_rfc3339(c->last, c->zone, last, sizeof last);
    return json_pack("{s:s, s:o, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "id", c->id, "channels",
                     channels, "timezone", tz_name(c->zone), "start", a, "end", b, "releases",
                     (json_int_t)c->occurrences, "release_rules", (json_int_t)c->nreleases, "first",
                     first, "last", last);
}

static void size_error(const char *file, size_t limit, diag_list *errs)
{
    struct stat st;
    if (strcmp(file, "-") != 0 && stat(file, &st) == 0)
        diag_add(errs, "", "size",
                 "the document is %lld bytes, over the limit of %zu bytes "
                 "(limits.max_campaign_bytes in the config)",
                 (long long)st.st_size, limit);
    else
        diag_add(errs, "", "size",
                 "the document is over the limit of %zu bytes "
                 "(limits.max_campaign_bytes in the config)",
                 limit);
}

static int run_validate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    /* Only an explicit --config: validating needs no server, so neither
     * $HAECHI_CONFIG nor /etc/haechi may stand in its way. */
    const char *config_path = NULL;
    int as_json = 0, opt;
    config cfg;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:j", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'j': as_json = 1; break;
        default: return verb_bad_option("validate", argv);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "haechi validate: expected one FILE (or - for standard input)\n");
        return 2;
    }
    const char *file = argv[optind];

    config_defaults(&cfg);
    if (config_path) {
        diag_list cerrs;
        diag_list_init(&cerrs);
        if (config_load_file(config_path, &cfg, &cerrs) != 0) {
            fprintf(stderr, "haechi validate: config %s is invalid:\n", config_path);
            diag_print(&cerrs, stderr);
            diag_list_release(&cerrs);
            config_release(&cfg);
            return 2;
        }
        diag_list_release(&cerrs);
    }

    char *buf, why[256];
    size_t len;
    int over;
    if (file_read_capped(file, cfg.limits.max_bytes, &buf, &len, &over, why, sizeof why) != 0) {
        fprintf(stderr, "haechi validate: %s\n", why);
        config_release(&cfg);
        return 2;
    }

    diag_list errs, warns, notes;
    diag_list_init(&errs);
    diag_list_init(&warns);
    diag_list_init(&notes);
    campaign *c = NULL;
    if (over)
        size_error(file, cfg.limits.max_bytes, &errs);
    else
        c = campaign_parse(buf, len, &cfg.limits, &errs, &warns);
    free(buf);
    /* The adapters' own rules, e.g. a network's weighted length. */
    if (c && channel_check_adapters(&cfg, c, &errs, &notes) > 0) {
        campaign_free(c);
        c = NULL;
    }

    if (as_json) {
        json_t *out =
            json_pack("{s:b, s:o, s:o, s:o}", "valid", c != NULL, "errors", diag_to_json(&errs),
                      "warnings", diag_to_json(&warns), "notes", diag_to_json(&notes));
        if (c)
            json_object_set_new(out, "summary", summary_json(c));
        json_dumpf(out, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(out);
    } else if (c) {
        print_summary(file, c);
        for (size_t i = 0; i < notes.len; i++)
            printf("  %-9s %s\n", notes.items[i].path + 1, notes.items[i].message);
        for (size_t i = 0; i < warns.len; i++)
            printf("warning: %s: %s\n", warns.items[i].path, warns.items[i].message);
    } else {
        diag_print(&errs, stdout);
    }
    if (!c)
        fprintf(stderr, "haechi validate: %s is invalid (%zu error%s)\n", file,
                errs.len + errs.dropped, errs.len + errs.dropped == 1 ? "" : "s");

    int rc = c ? 0 : 1;
    campaign_free(c);
    diag_list_release(&errs);
    diag_list_release(&warns);
    diag_list_release(&notes);
    config_release(&cfg);
    return rc;
}

const verb verb_validate = {
    .name = "validate",
    .run = run_validate,
    .synopsis = "check a campaign file; print every error or a summary",
    .help = "usage: haechi validate [--json] [--config PATH] FILE\n"
            "\n"
            "Checks the campaign FILE (- reads standard input) without a server.\n"
            "A valid file: exit 0 and a summary: its channels, how many releases fall\n"
            "in its window, the first and last release in the campaign's time zone.\n"
            "An invalid file: exit 1 and every error, one per line, as\n"
            "  JSON-POINTER: what is wrong\n"
            "e.g. /schedule/releases/2/cron: day-of-week 8 is out of range 0-7\n"
            "\n"
            "  --json         print {valid, errors[{path,rule,message}], warnings, summary}\n"
            "  --config PATH  take limits (max_campaign_bytes, max_occurrences) from PATH\n"
            "                 (default: the built-in limits; $HAECHI_CONFIG is not read)\n"
            "\n"
            "The format: docs/campaign-format.md.\n",
};
