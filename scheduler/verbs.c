/*
 * verbs.c - what every verb shares: help detection, option errors.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "verbs.h"

int verb_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

int verb_bad_option(const char *verb_name, char **argv)
{
    const char *bad = optind > 0 ? argv[optind - 1] : "?";
    if (optopt && bad[0] == '-' && bad[1] != '-')
        fprintf(stderr,
                "haechi %s: option -%c is unknown or lacks its value; see `haechi %s "
                "--help`\n",
                verb_name, optopt, verb_name);
    else
        fprintf(stderr,
                "haechi %s: option \"%s\" is unknown or lacks its value; see `haechi "
                "%s --help`\n",
                verb_name, bad, verb_name);
    return 2;
}
