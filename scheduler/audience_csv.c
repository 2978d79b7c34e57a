/*
 * audience_csv.c - RFC 4180 records from a stream, one byte at a time
 * through a small state machine, so that a record split over any number
 * of reads parses the same as one read whole. Memory: one input buffer
 * and one record buffer, both fixed.
 *
 * Beyond RFC 4180: LF and a lone CR end a line as CRLF does, a UTF-8 BOM
 * at the start is skipped, empty lines are skipped (spreadsheets leave
 * them at the end), and the whole input must be UTF-8 without NUL bytes
 * (fields are C strings).
 */
#include "audience.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"

#define CSV_INPUT_BUF 65536

enum csv_state {
    FIELD_START,    /* nothing of the field read yet */
    UNQUOTED,       /* inside a field that did not start with a quote */
    QUOTED,         /* inside quotes */
    QUOTE_IN_QUOTED /* a quote inside quotes: the closing one or the first of "" */
};

/* What csv_byte() hands the parser besides a byte. */
enum { CSV_END = -1, CSV_READ_FAILED = -2, CSV_BAD_BYTE = -3 };

struct csv_reader {
    csv_read_fn *read;
    void *src;
    int at_end, failed, done, started;
    char in[CSV_INPUT_BUF];
    size_t in_len, in_pos;

    /* Where the next byte is: 1-based line, and characters already on it. */
    long long line;
    int column;
    int after_cr;   /* the last byte was a CR: an LF now ends no new line */
    int swallow_lf; /* a CR ended a record: an LF now is part of that */

    /* The UTF-8 sequence being read: continuation bytes still expected,
     * the range of the next one, and where its first byte was. */
    int utf8_need;
    unsigned char utf8_lo, utf8_hi;
    long long utf8_line;
    int utf8_column;

    /* The last byte's position, and what was wrong with it. */
    long long byte_line;
    int byte_column, byte;
    char bad[128];

    /* The record: fields' text, each ended by a NUL. */
    char rec[CSV_RECORD_MAX + CSV_FIELDS_MAX + 1];
    size_t rec_len;
    size_t field_start[CSV_FIELDS_MAX];
};

static int fill(csv_reader *r)
{
    if (r->at_end || r->failed)
        return -1;
    long got = r->read(r->src, r->in, sizeof r->in);
    if (got < 0 || (size_t)got > sizeof r->in) {
        r->failed = 1;
        return -1;
    }
    if (got == 0) {
        r->at_end = 1;
        return -1;
    }
    r->in_len = (size_t)got;
    r->in_pos = 0;
    return 0;
}

static int raw_byte(csv_reader *r)
{
    if (r->in_pos == r->in_len && fill(r) != 0)
        return r->failed ? CSV_READ_FAILED : CSV_END;
    return (unsigned char)r->in[r->in_pos++];
}

/* Skips a UTF-8 BOM at the very start; the bytes may come in several reads. */
static void skip_bom(csv_reader *r)
{
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    r->started = 1;
    while (r->in_len < 3 && !r->at_end && !r->failed) {
        long got = r->read(r->src, r->in + r->in_len, sizeof r->in - r->in_len);
        if (got < 0 || (size_t)got > sizeof r->in - r->in_len)
            r->failed = 1;
        else if (got == 0)
            r->at_end = 1;
        else
            r->in_len += (size_t)got;
    }
    if (r->in_len >= 3 && memcmp(r->in, bom, 3) == 0)
        r->in_pos = 3;
}

/* Position and UTF-8 bookkeeping for byte C; 0, or -1 with r->bad set. */
static int track(csv_reader *r, int c)
{
    r->byte_line = r->line;
    r->byte = c;
    if (!(r->utf8_need > 0 && (c & 0xC0) == 0x80))
        r->column++;
    r->byte_column = r->column;
    int newline = c == '\n' || c == '\r';
    int counted = !(c == '\n' && r->after_cr);
    r->after_cr = c == '\r';
    if (newline) {
        r->line += counted;
        r->column = 0;
    }
    if (r->utf8_need > 0) {
        if (c < r->utf8_lo || c > r->utf8_hi) {
            r->utf8_need = 0;
            snprintf(r->bad, sizeof r->bad, "line %lld, column %d: invalid UTF-8", r->utf8_line,
                     r->utf8_column);
            return -1;
        }
        r->utf8_need--;
        r->utf8_lo = 0x80;
        r->utf8_hi = 0xBF;
        return 0;
    }
    if (c == 0) {
        snprintf(r->bad, sizeof r->bad, "line %lld, column %d: a NUL byte", r->byte_line,
                 r->byte_column);
        return -1;
    }
    if (c < 0x80)
        return 0;
    r->utf8_lo = 0x80;
    r->utf8_hi = 0xBF;
    r->utf8_line = r->byte_line;
    r->utf8_column = r->byte_column;
    if (c >= 0xC2 && c <= 0xDF)
        r->utf8_need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        r->utf8_need = 2;
        if (c == 0xE0)
            r->utf8_lo = 0xA0; /* overlong */
        else if (c == 0xED)
            r->utf8_hi = 0x9F; /* UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        r->utf8_need = 3;
        if (c == 0xF0)
            r->utf8_lo = 0x90; /* overlong */
        else if (c == 0xF4)
            r->utf8_hi = 0x8F; /* above U+10FFFF */
    } else {
        snprintf(r->bad, sizeof r->bad, "line %lld, column %d: invalid UTF-8", r->byte_line,
                 r->byte_column);
        return -1;
    }
    return 0;
}

/* The next byte, with an LF after a record-ending CR dropped. */
static int next_byte(csv_reader *r)
{
    int c = raw_byte(r);
    if (c >= 0 && r->swallow_lf && c == '\n') {
        r->swallow_lf = 0;
        track(r, c);
        c = raw_byte(r);
    }
    r->swallow_lf = 0;
    if (c < 0) {
        if (c == CSV_END && r->utf8_need > 0) {
            r->utf8_need = 0;
            snprintf(r->bad, sizeof r->bad, "line %lld, column %d: invalid UTF-8 at the end",
                     r->utf8_line, r->utf8_column);
            return CSV_BAD_BYTE;
        }
        return c;
    }
    return track(r, c) == 0 ? c : CSV_BAD_BYTE;
}

/* After a bad record: on to the start of the next line. LAST is the byte
 * the error was found at (a line break ends the line itself). */
static void resync(csv_reader *r, int last)
{
    int c = last;
    while (c != '\n' && c != '\r' && c != CSV_END && c != CSV_READ_FAILED) {
        c = raw_byte(r);
        if (c >= 0)
            track(r, c);
    }
    r->utf8_need = 0;
    if (c == '\r')
        r->swallow_lf = 1;
    if (c == CSV_END || c == CSV_READ_FAILED)
        r->done = 1;
}

int csv_source_failed(const csv_reader *r)
{
    return r && r->failed;
}

csv_reader *csv_open(csv_read_fn *read, void *src)
{
    if (!read)
        return NULL;
    csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->read = read;
    r->src = src;
    r->line = 1;
    return r;
}

void csv_close(csv_reader *r)
{
    free(r);
}

static void store(csv_reader *r, int c)
{
    r->rec[r->rec_len++] = (char)c;
}

/* Ends the field being read; 0, or -1 when it would be one too many. */
static int end_field(csv_reader *r, int *nfields)
{
    if (*nfields == CSV_FIELDS_MAX)
        return -1;
    r->rec[r->rec_len++] = '\0';
    (*nfields)++;
    if (*nfields < CSV_FIELDS_MAX)
        r->field_start[*nfields] = r->rec_len;
    return 0;
}

typedef struct csv_parse {
    enum csv_state state;
    int nfields;
    size_t raw;
    long long first_line;
    long long quote_line;
    int quote_column;
} csv_parse;

/* One byte C of a record; 1 when the record is complete, 0 to go on, -1
 * with WHY on an error. */
static int parse_byte(csv_reader *r, csv_parse *p, int c, char *why, size_t whylen)
{
    int line_end = c == '\n' || c == '\r';
    if (!line_end || p->state == QUOTED) {
        if (++p->raw > CSV_RECORD_MAX) {
            errmsg_set(why, whylen, "line %lld: a record over %d bytes", p->first_line,
                       CSV_RECORD_MAX);
            return -1;
        }
    }
    switch (p->state) {
    case FIELD_START:
        if (c == '"') {
            p->state = QUOTED;
            p->quote_line = r->byte_line;
            p->quote_column = r->byte_column;
            return 0;
        }
        p->state = UNQUOTED;
        /* fall through */
    case UNQUOTED:
        if (c == '"') {
            errmsg_set(why, whylen,
                       "line %lld, column %d: a quote inside a field that does not start with one "
                       "(quote the whole field and double the quote)",
                       r->byte_line, r->byte_column);
            return -1;
        }
        break;
    case QUOTED:
        if (c == '"')
            p->state = QUOTE_IN_QUOTED;
        else
            store(r, c);
        return 0;
    case QUOTE_IN_QUOTED:
        if (c == '"') {
            store(r, c);
            p->state = QUOTED;
            return 0;
        }
        if (c != ',' && !line_end) {
            errmsg_set(
                why, whylen,
                "line %lld, column %d: text after a closing quote (a comma or the end of the "
                "line must follow it)",
                r->byte_line, r->byte_column);
            return -1;
        }
        break;
    }
    if (c == ',' || line_end) {
        if (end_field(r, &p->nfields) != 0) {
            errmsg_set(why, whylen, "line %lld: over %d fields", p->first_line, CSV_FIELDS_MAX);
            return -1;
        }
        p->state = FIELD_START;
        if (line_end) {
            r->swallow_lf = c == '\r';
            return 1;
        }
        return 0;
    }
    store(r, c);
    return 0;
}

static int record_done(csv_reader *r, const csv_parse *p, const char **fields, long long *line)
{
    for (int i = 0; i < p->nfields; i++)
        fields[i] = r->rec + r->field_start[i];
    if (line)
        *line = p->first_line;
    return p->nfields;
}

int csv_next(csv_reader *r, const char **fields, long long *line, char *why, size_t whylen)
{
    csv_parse p = {.state = FIELD_START};
    if (why && whylen)
        why[0] = '\0';
    if (line)
        *line = 0;
    if (!r || r->done)
        return 0;
    if (!r->started)
        skip_bom(r);
    r->rec_len = 0;
    r->field_start[0] = 0;
    p.first_line = r->line;
    for (;;) {
        int c = next_byte(r);
        if (line)
            *line = p.first_line;
        if (c == CSV_READ_FAILED) {
            r->done = 1;
            errmsg_set(why, whylen, "reading the input failed at line %lld", r->line);
            return -1;
        }
        if (c == CSV_BAD_BYTE) {
            errmsg_set(why, whylen, "%s", r->bad);
            resync(r, r->byte);
            return -1;
        }
        if (c == CSV_END) {
            r->done = 1;
            if (p.state == FIELD_START && p.nfields == 0 && p.raw == 0) {
                if (line)
                    *line = 0;
                return 0;
            }
            if (p.state == QUOTED) {
                errmsg_set(why, whylen, "line %lld, column %d: a quote that is never closed",
                           p.quote_line, p.quote_column);
                return -1;
            }
            if (end_field(r, &p.nfields) != 0) {
                errmsg_set(why, whylen, "line %lld: over %d fields", p.first_line, CSV_FIELDS_MAX);
                return -1;
            }
            return record_done(r, &p, fields, line);
        }
        if (p.state == FIELD_START && p.nfields == 0 && p.raw == 0 && (c == '\n' || c == '\r')) {
            r->swallow_lf = c == '\r';
            p.first_line = r->line; /* an empty line: not a record */
            continue;
        }
        int rc = parse_byte(r, &p, c, why, whylen);
        if (rc == 1)
            return record_done(r, &p, fields, line);
        if (rc < 0) {
            resync(r, c);
            return -1;
        }
    }
}
