/*
 * channel_check.h - the checks of a campaign that belong to the adapters
 * the config puts behind its channels (adapter_ops.validate), run where
 * the campaign's own rules run: `haechi validate` and every submission.
 */
#ifndef HAECHI_CHANNEL_CHECK_H
#define HAECHI_CHANNEL_CHECK_H

#include "campaign.h"
#include "config.h"
#include "diag.h"

/* Adds each used channel's adapter errors to ERRS and its facts for people
 * (counts against limits) to NOTES, under /CHANNEL. Returns how many
 * errors it added. */
size_t channel_check_adapters(const config *cfg, const campaign *c, diag_list *errs,
                              diag_list *notes);

#endif
