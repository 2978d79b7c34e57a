/*
 * fuzz.h - what every fuzz target defines. The same file builds two ways:
 * with clang's libFuzzer (`make fuzz`), which supplies main(), and with the
 * test build's compiler and replay.c (`make test`), which calls the target
 * once per committed corpus file.
 */
#ifndef HAECHI_FUZZ_H
#define HAECHI_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
