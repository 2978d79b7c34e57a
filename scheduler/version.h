/*
 * version.h - the one place haechi's version is written, so that what the
 * binary says of itself (the User-Agent of every outbound call) cannot
 * drift between files.
 */
#ifndef HAECHI_VERSION_H
#define HAECHI_VERSION_H

#define HAECHI_VERSION "0.7.0"

#endif
