/*
 * fcall.h - FCALL of a Redis function library this binary carries (the
 * engine's, the audience store's), loading it when Redis does not have it:
 * a restarted or flushed Redis, or the first call ever. Each call copies
 * its arguments, so that the one retry after the load sends them again.
 */
#ifndef HAECHI_FCALL_H
#define HAECHI_FCALL_H

#include <stddef.h>

#include "rconn.h"

typedef struct fcall_library {
    const char *what;   /* for log lines: "engine", "audience" */
    const char *source; /* the library's Lua, "#!lua name=..." first */
} fcall_library;

/* FUNCTION LOAD REPLACE of LIB: 0 and FN once (FN NULL: a failure is only
 * logged), or an rconn refusal. */
int fcall_load(rconn *r, const fcall_library *lib, rconn_fn *fn, void *arg);

/*
 * FCALL NAME NKEYS ARGV[0..ARGC) (LENS NULL: NUL-terminated). Returns 0
 * and calls FN exactly once with Redis's answer (after loading LIB and
 * trying once more when Redis says "Function not found"), or an rconn
 * refusal (FN never called).
 */
int fcall_call(rconn *r, const fcall_library *lib, const char *name, int nkeys, int argc,
               const char *const *argv, const size_t *lens, rconn_fn *fn, void *arg);

#endif
