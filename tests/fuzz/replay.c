/*
 * replay.c - runs a fuzz target once over each file of its committed
 * corpus, so that `make test` keeps every seed and every fixed crash
 * passing under the normal sanitizer build, without clang.
 *
 * Usage: replay_TARGET DIR... ; prints "ok NAME: N inputs" or
 * "not ok NAME: ..." for run.sh. A crash ends the process, which run.sh
 * counts as a failure with the sanitizer's report.
 */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#define REPLAY_MAX_BYTES (4u * 1024 * 1024)

static int replay_file(const char *path)
{
    char *buf, why[512];
    size_t len;
    int over;
    if (file_read_capped(path, REPLAY_MAX_BYTES, &buf, &len, &over, why, sizeof why) != 0) {
        printf("not ok replay %s: %s\n", path, why);
        return -1;
    }
    if (!over) {
        fprintf(stderr, "replay: %s\n", path);
        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
    }
    free(buf);
    if (over)
        printf("not ok replay %s: over %u bytes\n", path, REPLAY_MAX_BYTES);
    return over ? -1 : 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Replays every regular file in DIR in name order; -1 when it cannot. */
static int replay_dir(const char *dir, size_t *count, size_t *bad)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            if (replay_file(path) != 0)
                (*bad)++;
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    size_t count = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (replay_dir(argv[i], &count, &bad) != 0) {
            printf("not ok %s: cannot read the corpus %s\n", name, argv[i]);
            return 1;
        }
    }
    if (count == 0 || bad) {
        printf("not ok %s: %zu inputs, %zu unreadable\n", name, count, bad);
        return 1;
    }
    printf("ok %s: %zu corpus inputs replayed\n", name, count);
    return 0;
}
