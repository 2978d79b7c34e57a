/*
 * expected_reach.h - a campaign's expected reach, as the daemon knows it.
 */
#ifndef HAECHI_EXPECTED_REACH_H
#define HAECHI_EXPECTED_REACH_H

#include "campaign.h"
#include "config.h"

/* Prints, under "expected reach", a line per list channel (its list's
 * active members) and per network that has posted; one line saying why
 * when the daemon at cfg->client_url does not answer. */
void expected_reach_print(const config *cfg, const campaign *c);

#endif
