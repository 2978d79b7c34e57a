/*
 * kakao_rules.h - what the dealer's answers mean, as pure functions: the
 * header result codes of an NHN Cloud v2.2-style BizMessage answer, the
 * per-recipient delivery codes (Kakao's, as dealers pass them on), the
 * 20:50-08:00 KST night block of advertising messages, the idempotency
 * key of a batch, and the shape of a batch's target. No Redis, no HTTP:
 * tests/unit/test_kakao.c runs every row. docs/adapters.md ("kakao") has
 * the facts, their sources, and which of them are assumptions ([U]).
 */
#ifndef HAECHI_KAKAO_RULES_H
#define HAECHI_KAKAO_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "quiet.h"
#include "tz.h"

/* ---- per-recipient codes ---------------------------------------------------- */

typedef enum kakao_action {
    KAKAO_ACCEPTED,  /* the dealer took it: marked sent */
    KAKAO_RETRY,     /* try this recipient again: left unmarked */
    KAKAO_PERMANENT, /* never for this release: marked failed, counted by reason */
    KAKAO_HOLD,      /* not now (an ad at night): left unmarked, the batch waits */
    KAKAO_ACTION_COUNT
} kakao_action;

/* "accepted", "retry", "permanent", "hold"; kakao_action_parse() is the
 * inverse (-1 for anything else). */
const char *kakao_action_name(kakao_action a);
int kakao_action_parse(const char *name);

/* The codes the config's result_codes may remap ([U]: all of them), in
 * the order of kakao_override's slots. */
#define KAKAO_CODES_N 8
extern const int kakao_override_codes[KAKAO_CODES_N];

/* The config's result_codes: an action name per slot, "" for the built-in
 * one, and "other" for codes the table does not know. */
typedef struct kakao_overrides {
    int present;
    char code[KAKAO_CODES_N][12];
    char other[12];
} kakao_overrides;

typedef struct kakao_verdict {
    kakao_action action;
    char reason[32];     /* a reason code ([a-z0-9-]): "not-friend", "code-4321" */
    const char *meaning; /* for people */
} kakao_verdict;

/* What per-recipient result CODE means, after OV (may be NULL). */
void kakao_recipient_verdict(const kakao_overrides *ov, int code, kakao_verdict *out);

/* ---- header codes ------------------------------------------------------------ */

typedef enum kakao_header_kind {
    KAKAO_HEADER_OK,        /* 0: read the sendResults */
    KAKAO_HEADER_DUPLICATE, /* -1005: the same idempotency key was accepted before */
    KAKAO_HEADER_FAILED     /* anything else: O says why */
} kakao_header_kind;

/*
 * The header of an answer: resultCode CODE with resultMessage MSG (may be
 * NULL). For KAKAO_HEADER_FAILED, O is FAILED with the class and a reason
 * naming the dealer's code and message; an auth error names the config
 * field to fix (SECRET_FIELD: "secret_env NAME" or "secret_file PATH").
 */
kakao_header_kind kakao_header_verdict(int code, const char *msg, const char *secret_field,
                                       adapter_outcome *o);

/* ---- an answer ---------------------------------------------------------------- */

/* One request's recipients and what the answer said of each. */
typedef struct kakao_tally {
    int n;                      /* recipients in the request */
    const long long *positions; /* [n]: their list positions (recipientGroupingKey) */
    const char (*masked)[64];   /* [n]: what messages show of each */
    long long *accepted;        /* room for n: positions the dealer took */
    long long *failed;          /* room for the batch: refused for good (may hold some already) */
    int *retry_idx;             /* room for n, or NULL: the indices of those to retry */
    int na, nf, nretry, nhold;
    char retry_reason[32];
    char request_id[128];
} kakao_tally;

typedef enum kakao_answer {
    KAKAO_ANSWER_RESULTS,   /* T says per recipient; O holds their reasons and failures */
    KAKAO_ANSWER_DUPLICATE, /* -1005: the dealer took these recipients before: all accepted */
    KAKAO_ANSWER_FINAL      /* O is the batch's outcome (AGAIN or FAILED): nothing to mark */
} kakao_answer;

/*
 * Reads the dealer's answer to one request: HTTP STATUS and BODY, with
 * RETRY_AFTER_MS the wait a 429 asked for (-1: none). OV remaps the
 * per-recipient codes; SECRET_FIELD is named by an auth error. O gains
 * the refusals by reason (adapter_outcome_count_reason) and the failed
 * recipients; for KAKAO_ANSWER_FINAL it is replaced by the outcome.
 */
kakao_answer kakao_answer_read(int status, const char *body, size_t len, long long retry_after_ms,
                               const kakao_overrides *ov, const char *secret_field, kakao_tally *t,
                               adapter_outcome *o);

/*
 * Gives up on the recipients T has to retry (after ATTEMPTS attempts of
 * their batch): refused for good under their retry reason, so that the
 * batch can end with its counts. Needs T's retry_idx.
 */
void kakao_tally_give_up(kakao_tally *t, int attempts, adapter_outcome *o);

/*
 * The batch's outcome once T is marked: OK with the totals over every
 * attempt (SENT_BEFORE, FAILED_BEFORE and SKIPPED from the store's read;
 * EARLIER[0..NEARLIER) the reasons earlier attempts refused them for, any
 * rest of FAILED_BEFORE under "refused-earlier"), or AGAIN for the
 * recipients to retry. Returns 1, leaving O for the caller to hold until
 * the night block ends, when some were held (3022).
 */
int kakao_tally_settle(const kakao_tally *t, long long sent_before, long long failed_before,
                       long long skipped, const adapter_reason_count *earlier, int nearlier,
                       adapter_outcome *o);

/* ---- the night block ---------------------------------------------------------- */

/* "HH:MM-HH:MM" (start != end, may span midnight) into Q; -1 with WHY. */
int kakao_night_parse(const char *text, quiet_hours *q, char *why, size_t whylen);

/*
 * Whether an advertising FriendTalk at NOW_MS falls in the night block Q
 * in SEOUL: 1 with *UNTIL_MS the block's end, else 0.
 */
int kakao_night_hold(const quiet_hours *q, const tz *seoul, int64_t now_ms, int64_t *until_ms);

/* The next end of the block at or after NOW_MS (a 3022 answer: the
 * dealer's clock said night even if ours does not). */
int64_t kakao_night_end_after(const quiet_hours *q, const tz *seoul, int64_t now_ms);

/* ---- batches ------------------------------------------------------------------ */

/* "vV:FIRST": a batch of AUDIENCE_CHUNK positions from FIRST of version V. */
int kakao_target_format(long long version, long long first, char *out, size_t len);
int kakao_target_parse(const char *target, long long *version, long long *first);

/* The release key of audience.h's bitmaps: "CID:RID:DUE_MS". */
void kakao_release_key(const char *campaign_id, const char *release_id, int64_t due_ms, char *out,
                       size_t len);

/* Grouping keys are at most this long on the dealer (NHN: 100). */
#define KAKAO_GROUPING_KEY_MAX 100

/*
 * The X-NC-API-IDEMPOTENCY-KEY of a request: the hex SHA-256 of ITEM_ID,
 * GENERATION (how many answers this item has had) and the positions. The
 * same recipients after an unanswered attempt give the same key (the
 * dealer answers -1005 if it took them); fewer recipients, or the same
 * ones after an answer that asked to retry them, give another.
 */
void kakao_idempotency_key(const char *item_id, long long generation, const long long *positions,
                           int n, char out[65]);

#endif
