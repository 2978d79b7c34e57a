/*
 * audience.h - audience lists in Redis: who a per-recipient channel (kakao,
 * later the newsletter) sends to, and who must not be sent to.
 *
 * A list is a sequence of immutable versions. An import stages a whole new
 * version next to the one in force and switches to it in one atomic step
 * at the end, so an interrupted import leaves the previous list in force
 * and a release that took a snapshot (a version) keeps reading the members
 * it planned its batches from. Members' statuses (unsubscribed, bounced,
 * ...) are an overlay on the list, not on a version: every later version
 * and every send respects them.
 *
 * Keys (P = the config's redis.prefix; L = the list id, a slug; V = a
 * version number; every key of one list carries the hash tag {a:L}, so
 * each of the library's functions touches one slot):
 *
 *   P:audiences            ZSET  list ids, scored by creation (ms): the index
 *   P:{a:L}:meta           HASH  id, kind ("phone" | "email"), version (the one
 *                                in force, absent before the first import),
 *                                seq (the last version number handed out),
 *                                created_at, updated_at, updated_by
 *   P:{a:L}:v:V:info       HASH  members, chunks, buckets, fields (JSON array of
 *                                the custom column names), kind, at, by, state
 *                                ("staging" | "ready")
 *   P:{a:L}:v:V:c:N        STRING chunk N: members N*1000 .. N*1000+999, one JSON
 *                                array per line: [id, name, lang, custom...]
 *                                (custom in the order of info.fields; "" none)
 *   P:{a:L}:v:V:x:B        HASH  id -> position (0-based), B = audience_bucket()
 *   P:{a:L}:v:V:st         HASH  id -> status given by the import's own status
 *                                column (merged into the overlay on commit)
 *   P:{a:L}:v:V:counts     HASH  status -> members of V with that status
 *                                (active = members - the others)
 *   P:{a:L}:status         HASH  id -> {"s": status, "at": ms, "by": who,
 *                                "reason": text}: every member whose status is
 *                                not active, over all versions
 *   P:{a:L}:sent:R         STRING bitmap: bit = position, 1 = the channel accepted
 *                                that member for release R ("CID:RID:DUE")
 *   P:{a:L}:fail:R         STRING bitmap: 1 = refused for good for release R
 *
 * A staging version's keys carry a TTL (AUDIENCE_STAGING_TTL_S) until the
 * commit makes them persistent, so an import that died leaves nothing
 * behind for long; the version it replaced gets a TTL of keep_old_s at the
 * commit (a release still sending from it finishes first). Bitmaps get the
 * TTL their writer passes.
 *
 * The functions are a Redis function library (scheduler/audience.lua,
 * "haechi_audience_v1"), loaded on first use. Every call here is
 * asynchronous on an rconn, returns 0 and calls back exactly once, or
 * returns an rconn refusal (RCONN_DOWN, RCONN_BUSY) and never calls back.
 */
#ifndef HAECHI_AUDIENCE_H
#define HAECHI_AUDIENCE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rconn.h"

/* Members per chunk, and the most one batch read returns. */
#define AUDIENCE_CHUNK 1000
/* Columns a list may have besides the id, name and language. */
#define AUDIENCE_FIELDS_MAX 32
#define AUDIENCE_ID_MAX 254 /* an e-mail address's longest */
#define AUDIENCE_STAGING_TTL_S 86400
#define AUDIENCE_KEEP_OLD_S_DEFAULT (3 * 86400)

typedef enum audience_kind { AUDIENCE_PHONE, AUDIENCE_EMAIL } audience_kind;

/* A member's status: only ACTIVE members are ever sent to. */
typedef enum audience_status {
    AUDIENCE_ACTIVE,
    AUDIENCE_UNSUBSCRIBED,
    AUDIENCE_BLOCKED,
    AUDIENCE_BOUNCED,
    AUDIENCE_SUPPRESSED,
    AUDIENCE_REMOVED, /* `audience remove`: not a member until imported again */
    AUDIENCE_STATUS_COUNT
} audience_status;

/* "active", "unsubscribed", ...; audience_status_parse() is the inverse
 * (returns -1 for an unknown name). */
const char *audience_status_name(audience_status s);
int audience_status_parse(const char *name);

/* ---- members: pure, no Redis (audience_member.c) ---------------------------------- */

/*
 * A Korean mobile number in any common spelling ("010-1234-5678",
 * "01012345678", "+82 10 1234 5678", "82-10-...") to E.164 ("+821012345678").
 * Accepts the mobile prefixes 010 (8 digits after) and 011, 016-019 (7 or
 * 8 after). Returns 0, or -1 with a reason for people in WHY ("10 digits
 * after 010, 8 needed").
 */
int audience_phone_normalize(const char *in, char *out, size_t outlen, char *why, size_t whylen);

/* E.164 "+8210..." back to the domestic "010..." a Korean dealer API takes. */
int audience_phone_domestic(const char *e164, char *out, size_t outlen);

/* An e-mail address's syntax (RFC 5321 sizes, a dot-atom local part, a
 * domain of LDH labels); the domain is lowercased. 0 or -1 with WHY. */
int audience_email_normalize(const char *in, char *out, size_t outlen, char *why, size_t whylen);

/* What logs and error messages show of a member id: "+8210****5678",
 * "h***@example.com". Never the whole id. */
void audience_mask(const char *id, char *out, size_t outlen);

/* The index bucket of ID among NBUCKETS (a stable hash; the importer and
 * the library's callers must agree). */
unsigned audience_bucket(const char *id, unsigned nbuckets);

/* How many index buckets a version of about EXPECTED members is given (about
 * 100 members each, so every bucket stays a small, compact hash). */
unsigned audience_buckets_for(long long expected);

/* ---- CSV: pure, streaming (audience_csv.c) ------------------------------------------- */

/*
 * RFC 4180 records from a stream: quoted fields with "" escapes and line
 * breaks inside quotes, CRLF or LF, a UTF-8 BOM skipped. Memory is bounded
 * by the longest record (CSV_RECORD_MAX bytes), never by the file.
 */
#define CSV_FIELDS_MAX 40
#define CSV_RECORD_MAX 65536

typedef struct csv_reader csv_reader;

/* READ fills BUF with up to LEN bytes and returns how many (0 at the end,
 * -1 on an error): a FILE, a socket, a buffer in memory. */
typedef long csv_read_fn(void *src, char *buf, size_t len);

csv_reader *csv_open(csv_read_fn *read, void *src);
void csv_close(csv_reader *r);

/*
 * The next record: returns its number of fields (>= 1), 0 at the end, or
 * -1 for a record that is not CSV (WHY says why: an unclosed quote, over
 * CSV_RECORD_MAX bytes, over CSV_FIELDS_MAX fields, invalid UTF-8); the
 * reader carries on at the next line after an error. FIELDS point into
 * the reader, valid until the next call. *LINE is the record's first line
 * (1-based), for messages.
 */
int csv_next(csv_reader *r, const char **fields, long long *line, char *why, size_t whylen);

/* 1 when READ returned -1: the -1 of csv_next() that said so ended the
 * input, and the records read are not the whole file. */
int csv_source_failed(const csv_reader *r);

/* ---- rows: a CSV record to a member (audience_member.c) ----------------------------- */

/*
 * Which column is what, from the header row. Names are matched without
 * regard to case: "phone" (or "mobile") or "email" (exactly one of them:
 * the member id), "name", "lang" (or "language"), "status"; every other
 * column is a custom field (a template variable): [a-z0-9_], 1-32 bytes,
 * at most AUDIENCE_FIELDS_MAX of them, each name once.
 */
typedef struct audience_layout {
    audience_kind kind;
    int ncols;                                  /* columns in the header */
    int id_col, name_col, lang_col, status_col; /* -1: absent */
    int ncustom;
    int custom_col[AUDIENCE_FIELDS_MAX];
    char custom[AUDIENCE_FIELDS_MAX][33]; /* lowercased names, in column order */
} audience_layout;

/* 0, or -1 with WHY naming the column and the rule ("column 3 \"phone\"
 * appears twice"). */
int audience_layout_from_header(const char **fields, int n, audience_layout *l, char *why,
                                size_t whylen);

/*
 * One data row: checks and normalises it. Returns 0 with ID (the
 * normalised phone or e-mail), *RECORD (new: the JSON array [id, name,
 * lang, custom...] stored in a chunk, "" for empty cells) and *STATUS
 * (the status column's value, ACTIVE without one); or -1 with WHY, a
 * reason for people that names the column and never shows the whole id
 * ("phone: 9 digits after 010, 8 needed"). Limits: name 1-100 characters
 * when given, lang a BCP 47-like tag ("ko", "en", "zh-Hant"), custom
 * values at most 1,000 characters, every cell valid UTF-8 without
 * control characters.
 */
int audience_row(const audience_layout *l, const char **fields, int n, char *id, size_t idlen,
                 json_t **record, audience_status *status, char *why, size_t whylen);

/* ---- the store (audience.c, audience.lua) ------------------------------------------- */

typedef struct audience_info {
    int found; /* 0: no such list (the rest is zero) */
    char id[65];
    audience_kind kind;
    long long version; /* in force; 0: nothing imported yet */
    long long members; /* of that version */
    long long chunks;
    long long counts[AUDIENCE_STATUS_COUNT]; /* of that version's members */
    json_t *fields; /* the custom column names (array); owned by the info */
    int64_t updated_at;
    char updated_by[96];
} audience_info;

typedef void audience_info_fn(const audience_info *info, const char *error, void *arg);

/* The list L as it stands: for plan(), `audience show`, preview's reach. */
int audience_get_info(rconn *r, const char *prefix, const char *list, audience_info_fn *fn,
                      void *arg);

/* One batch of a release's recipients: what audience_read_batch() found. */
typedef struct audience_batch {
    long long first, count; /* the positions asked for */
    int n;                  /* members to send to now, in members[] */
    long long position[AUDIENCE_CHUNK];
    json_t *members;         /* array of n member arrays [id, name, lang, custom...] */
    json_t *fields;          /* the version's custom column names */
    long long sent_before;   /* positions in range already accepted (the sent bitmap) */
    long long failed_before; /* already refused for good (the fail bitmap) */
    long long skipped;       /* not active now (the status overlay) */
    long long skipped_by[AUDIENCE_STATUS_COUNT];
    int version_gone; /* the version expired: nothing can be read */
} audience_batch;

/* B and ERROR borrowed for the call (B NULL when ERROR is set). */
typedef void audience_batch_fn(const audience_batch *b, const char *error, void *arg);

/*
 * Positions FIRST .. FIRST+COUNT-1 (COUNT <= AUDIENCE_CHUNK) of version V
 * of list L, for release RELEASE ("CID:RID:DUE"): the members still to
 * send to, without those the release's bitmaps mark and those whose status
 * is not active.
 */
int audience_read_batch(rconn *r, const char *prefix, const char *list, long long version,
                        long long first, long long count, const char *release,
                        audience_batch_fn *fn, void *arg);

typedef void audience_done_fn(const char *error, void *arg);

/*
 * Marks positions in release RELEASE's bitmaps: ACCEPTED[0..NA) in sent,
 * FAILED[0..NF) in fail, and gives both bitmaps TTL_S seconds to live.
 */
int audience_mark(rconn *r, const char *prefix, const char *list, const char *release,
                  const long long *accepted, int na, const long long *failed, int nf,
                  long long ttl_s, audience_done_fn *fn, void *arg);

/* ---- the store: what the commands and the API add (audience.c) ---------------------- */

/* A member as the store holds it, with its status. */
typedef struct audience_member {
    int found;                    /* 0: not a member of the version in force */
    char id[AUDIENCE_ID_MAX + 1]; /* normalised */
    long long version, position;
    json_t *record; /* [id, name, lang, custom...]; owned; NULL when not found */
    json_t *fields; /* the version's custom column names; owned */
    audience_status status;
    int64_t status_at; /* 0: never changed */
    char status_by[96];
    char reason[256];
} audience_member;

typedef void audience_member_fn(const audience_member *m, const char *error, void *arg);

/* Member ID (in any spelling audience_phone_normalize / _email_normalize
 * take, by the list's kind) of list L's version in force. */
int audience_member_get(rconn *r, const char *prefix, const char *list, const char *id,
                        audience_member_fn *fn, void *arg);

/* What a status change did: CHANGED 0 when it already was so. */
typedef struct audience_change {
    char id[AUDIENCE_ID_MAX + 1];
    int changed;
    audience_status old, now;
} audience_change;

typedef void audience_change_fn(const audience_change *ch, const char *error, void *arg);

/*
 * Gives member ID of list L the status S (ACTIVE clears the overlay entry,
 * REMOVED is `audience remove`), recorded with BY, the time and REASON.
 * Errors: "no such list", "not a member", an id that does not normalise.
 * The counts of the version in force (and of one being staged) follow.
 */
int audience_set_status(rconn *r, const char *prefix, const char *list, const char *id,
                        audience_status s, const char *by, const char *reason,
                        audience_change_fn *fn, void *arg);

/* One chunk of a version, for export: LINES members with their statuses. */
typedef struct audience_page {
    long long version, chunk, chunks, members;
    json_t *fields;  /* borrowed for the call */
    json_t *records; /* array of member arrays, borrowed */
    int n;
    audience_status status[AUDIENCE_CHUNK];
} audience_page;

typedef void audience_page_fn(const audience_page *p, const char *error, void *arg);

/* Chunk CHUNK of version VERSION (0: the one in force) of list L. */
int audience_export_page(rconn *r, const char *prefix, const char *list, long long version,
                         long long chunk, audience_page_fn *fn, void *arg);

/* A page of the index: IDS an array of {"id", "created_at"} (borrowed),
 * *TOTAL the lists there are. */
typedef void audience_ids_fn(json_t *ids, long long total, const char *error, void *arg);
int audience_list_ids(rconn *r, const char *prefix, long long offset, int count,
                      audience_ids_fn *fn, void *arg);

/* An audience_info as JSON for the API and `audience show --json`: new reference. */
json_t *audience_info_json(const audience_info *info);

/* ---- staging: the importer's calls (audience.c) ------------------------------------ */

/* Starts version *VERSION of list L (creating the list); *FROM is the
 * version in force it will replace (0: none). */
typedef void audience_begun_fn(long long version, long long from, const char *error, void *arg);
int audience_stage_begin(rconn *r, const char *prefix, const char *list, audience_kind kind,
                         unsigned buckets, const char *fields_json, const char *by,
                         audience_begun_fn *fn, void *arg);

/* What one stage call did: members staged so far, carried rows dropped
 * (removed members), and for each duplicate its row in the call (0-based)
 * and the file line it repeats (0: a member carried over from the list). */
typedef struct audience_staged {
    long long members, skipped;
    int ndup;
    const long long *dup_row, *dup_line;
} audience_staged;

typedef void audience_staged_fn(const audience_staged *s, const char *error, void *arg);

/* N rows of 5 strings each in ROWS/LENS: id, bucket, line, record, status
 * ("" when active); copied before the call returns. */
int audience_stage_rows(rconn *r, const char *prefix, const char *list, long long version, int n,
                        const char *const *rows, const size_t *lens, audience_staged_fn *fn,
                        void *arg);

/* Puts VERSION in force if FROM still is; the old version expires after
 * KEEP_OLD_S. *MEMBERS on success. */
typedef void audience_committed_fn(long long version, long long members, const char *error,
                                   void *arg);
int audience_stage_commit(rconn *r, const char *prefix, const char *list, long long version,
                          long long from, long long keep_old_s, const char *by,
                          audience_committed_fn *fn, void *arg);

/* ---- the importer (audience_import.c) ----------------------------------------------- */

typedef struct audience_import_options {
    const char *list;
    int replace;        /* 0: append to the members in force */
    int strict;         /* any rejected row abandons the import */
    long long expected; /* a guess of the rows (sizes the index); 0: unknown */
    long long keep_old_s;
    const char *by;
} audience_import_options;

#define AUDIENCE_REPORT_MAX 100

typedef struct audience_report_row {
    long long line;
    char why[256];
} audience_report_row;

typedef struct audience_import_result {
    int committed;
    long long version, members;
    long long rows; /* data rows read */
    long long rejected, duplicates;
    int nrejected_shown, nduplicates_shown;
    audience_report_row rejected_shown[AUDIENCE_REPORT_MAX];
    audience_report_row duplicates_shown[AUDIENCE_REPORT_MAX];
    char error[512]; /* why nothing was committed */
} audience_import_result;

typedef struct audience_import audience_import;

/* Called now and then while rows go in (progress), and once at the end. */
typedef void audience_import_fn(const audience_import_result *res, int done, void *arg);

/* Starts importing CSV from READ/SRC into a new version of the list, on R
 * (ready); FN is called with done 1 exactly once, after which the caller
 * frees the import. NULL when out of memory. */
audience_import *audience_import_start(struct event_base *base, rconn *r, const char *prefix,
                                       const audience_import_options *opt, csv_read_fn *read,
                                       void *src, audience_import_fn *fn, void *arg);
void audience_import_free(audience_import *im);

#endif
