/*
 * main.c - the haechi binary: finds the verb and hands it argv.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "verbs.h"

static const verb *const verbs[] = {
    &verb_serve, &verb_validate, &verb_preview,  &verb_rehearse, &verb_submit,
    &verb_list,  &verb_status,   &verb_pause,    &verb_resume,   &verb_cancel,
    &verb_dead,  &verb_release,  &verb_audience,
};
#define NVERBS (sizeof verbs / sizeof verbs[0])

static void usage(FILE *out)
{
    fputs("haechi - multi-channel campaign broadcast scheduler\n\n"
          "usage: haechi VERB [options]\n\n"
          "verbs:\n",
          out);
    for (size_t i = 0; i < NVERBS; i++)
        fprintf(out, "  %-10s %s\n", verbs[i]->name, verbs[i]->synopsis);
    fputs("\n`haechi VERB --help` explains one verb. Verbs that talk to a\n"
          "server take --url and --token, or HAECHI_URL and HAECHI_TOKEN.\n",
          out);
}

int main(int argc, char **argv)
{
    /* Verbs report bad options themselves, in one line. */
    opterr = 0;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < NVERBS; i++) {
        if (strcmp(argv[1], verbs[i]->name) != 0)
            continue;
        if (verb_wants_help(argc - 1, argv + 1)) {
            fputs(verbs[i]->help, stdout);
            return 0;
        }
        return verbs[i]->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "haechi: unknown verb \"%s\"; `haechi --help` lists them\n", argv[1]);
    return 2;
}
