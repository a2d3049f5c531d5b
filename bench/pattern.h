/*
 * The bytes echo-load sends: a fixed pseudo-random pattern, read at an
 * offset of its own per connection, so that every echoed byte can be
 * compared with what was sent at that stream offset and crossed wires
 * show up.
 */
#ifndef ECHO_LOAD_PATTERN_H
#define ECHO_LOAD_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* Make the pattern; exits with LOAD_EXIT_USAGE when out of memory. */
void	pattern_init(void);

/* The pattern at stream offset off; the next IO_CHUNK bytes are there. */
const unsigned char	*pattern_at(uint64_t off);

/* The stream offset connection number idx starts at. */
uint64_t	pattern_seed(uint64_t idx);

/* 0 when p[0..n) is the pattern at stream offset off, -1 otherwise. */
int	pattern_check(uint64_t off, const unsigned char *p, size_t n);

#endif
