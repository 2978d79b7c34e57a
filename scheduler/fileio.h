/*
 * fileio.h - reading whole files with a size cap.
 */
#ifndef HAECHI_FILEIO_H
#define HAECHI_FILEIO_H

#include <stddef.h>

/*
 * Reads PATH ("-" is standard input) into a new NUL-terminated buffer.
 * Reads at most LIMIT + 1 bytes, so an oversized file is noticed without
 * being read whole; *len is what was read and *over is set when the file is
 * larger than LIMIT. Returns 0, or -1 with a reason in err.
 */
int file_read_capped(const char *path, size_t limit, char **buf, size_t *len, int *over, char *err,
                     size_t errlen);

#endif
