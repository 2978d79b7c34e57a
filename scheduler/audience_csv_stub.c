/*
 * audience_csv_stub.c - THROW-AWAY stand-in for aud-pure's audience_csv.c
 * (quoted fields, "" escapes, CRLF; no BOM or UTF-8 checks). DELETE at merge.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audience.h"

struct csv_reader {
    csv_read_fn *read;
    void *src;
    char in[65536];
    size_t len, at;
    int eof;
    char rec[CSV_RECORD_MAX];
    const char *fields[CSV_FIELDS_MAX];
    long long line;
};

csv_reader *csv_open(csv_read_fn *read, void *src)
{
    csv_reader *r = calloc(1, sizeof *r);
    if (r) {
        r->read = read;
        r->src = src;
        r->line = 1;
    }
    return r;
}

void csv_close(csv_reader *r)
{
    free(r);
}

static int next_byte(csv_reader *r)
{
    if (r->at == r->len) {
        if (r->eof)
            return -1;
        long n = r->read(r->src, r->in, sizeof r->in);
        if (n <= 0) {
            r->eof = 1;
            return -1;
        }
        r->len = (size_t)n;
        r->at = 0;
    }
    return (unsigned char)r->in[r->at++];
}

int csv_next(csv_reader *r, const char **fields, long long *line, char *why, size_t whylen)
{
    size_t used = 0;
    int n = 0, quoted = 0, any = 0, c;
    *line = r->line;
    r->fields[n++] = r->rec;
    while ((c = next_byte(r)) >= 0) {
        any = 1;
        if (quoted) {
            if (c == '"') {
                int d = next_byte(r);
                if (d != '"') {
                    quoted = 0;
                    if (d < 0)
                        break;
                    r->at--;
                    continue;
                }
            } else if (c == '\n') {
                r->line++;
            }
        } else if (c == '"') {
            quoted = 1;
            continue;
        } else if (c == ',' || c == '\n') {
            if (used + 1 >= sizeof r->rec || n >= CSV_FIELDS_MAX)
                break;
            r->rec[used++] = '\0';
            if (c == '\n') {
                r->line++;
                break;
            }
            r->fields[n++] = r->rec + used;
            continue;
        } else if (c == '\r') {
            continue;
        }
        if (used + 2 >= sizeof r->rec) {
            snprintf(why, whylen, "record over %d bytes", CSV_RECORD_MAX);
            return -1;
        }
        r->rec[used++] = (char)c;
    }
    if (!any)
        return 0;
    r->rec[used] = '\0';
    if (quoted) {
        snprintf(why, whylen, "unclosed quote");
        return -1;
    }
    memcpy(fields, r->fields, (size_t)n * sizeof *fields);
    return n;
}
