/*
 * status.h - the one status vocabulary of the runtime modules, after
 * nginx's: a call succeeded, failed, cannot go on now but may later, or
 * declined because what was asked does not apply to it. Constructors
 * return NULL instead; predicates return 0 or 1.
 */
#ifndef HAECHI_STATUS_H
#define HAECHI_STATUS_H

typedef enum haechi_status {
    HAECHI_OK = 0,
    HAECHI_ERR = -1,     /* failed: the reason travels beside it (err buffer, diag_list) */
    HAECHI_AGAIN = -2,   /* not now: rate-limited, quiet hours, a link being re-established */
    HAECHI_DECLINED = -3 /* not for this callee: the caller goes on its own way */
} haechi_status;

#endif
