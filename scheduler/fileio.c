/*
 * fileio.c - capped whole-file reads.
 */
#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int file_read_capped(const char *path, size_t limit, char **buf, size_t *len, int *over, char *err,
                     size_t errlen)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    char *data = NULL;
    size_t used = 0, cap = 0;
    int rc = -1;

    *buf = NULL;
    *len = 0;
    *over = 0;
    if (!f) {
        snprintf(err, errlen, "cannot read \"%s\": %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        /* One byte always stays free for the terminating NUL. */
        if (used + 1 >= cap) {
            size_t want = cap ? cap * 2 : 16384;
            if (want > limit + 2)
                want = limit + 2;
            if (want <= cap || want <= used + 1) {
                *over = 1;
                break;
            }
            char *nd = realloc(data, want);
            if (!nd) {
                snprintf(err, errlen, "out of memory reading \"%s\"", path);
                goto out;
            }
            data = nd;
            cap = want;
        }
        size_t n = fread(data + used, 1, cap - used - 1, f);
        used += n;
        if (n == 0) {
            if (ferror(f)) {
                snprintf(err, errlen, "cannot read \"%s\": %s", path, strerror(errno));
                goto out;
            }
            break;
        }
        if (used > limit) {
            *over = 1;
            break;
        }
    }
    data[used] = '\0';
    *buf = data;
    *len = used;
    data = NULL;
    rc = 0;
out:
    free(data);
    if (!is_stdin)
        fclose(f);
    return rc;
}
