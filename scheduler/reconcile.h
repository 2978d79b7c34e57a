/*
 * reconcile.h - the scheduler role's repair pass: makes the engine's view
 * of every campaign (armed version, status) match the store's. Runs a
 * second after start and every minute after.
 */
#ifndef HAECHI_RECONCILE_H
#define HAECHI_RECONCILE_H

#include <event2/event.h>

#include "engine.h"
#include "store.h"

typedef struct reconciler reconciler;

reconciler *reconcile_new(struct event_base *base, engine *e, store *st);
void reconcile_free(reconciler *r);

/* Starts a pass now unless one is running. */
void reconcile_now(reconciler *r);

/* How many fixes the passes so far applied. */
long long reconcile_fixed(const reconciler *r);

#endif
