/*
 * libFuzzer harness for the hand-over's reader (src/handover.c): the
 * text a master passes to the program it execs in its place.  That text
 * comes from an echod, not from the network, but a reader that misreads
 * it would adopt the wrong processes or descriptors, so the contract is
 * checked, and the harness aborts (libFuzzer keeps the input) when any
 * part of it breaks:
 *
 *  - handover_parse() returns 0 or -1; on -1 the reason is a non-empty
 *    string;
 *  - on 0, the text written back out by handover_format() parses again,
 *    and writes out byte for byte the same (what a reader took in, a
 *    writer says the same way: nothing read was half understood);
 *  - with the newest format a reader takes lowered to the oldest, an
 *    input whose first line names a newer format is refused.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handover.h"

static struct handover	 h, again;

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char	 err[512], err2[512];
	char	*copy, *t1, *t2;
	size_t	 l1, l2;
	int	 rc;

	/* Exactly the bytes it may read: ASan sees any read past them. */
	if ((copy = malloc(len ? len : 1)) == NULL)
		return 0;
	memcpy(copy, data, len);
	err[0] = '\0';
	rc = handover_parse(copy, len, HANDOVER_FORMAT + 1, &h, err,
	    sizeof(err));
	if (rc != 0 && (rc != -1 || err[0] == '\0'))
		abort();
	if (rc == 0) {
		if ((t1 = handover_format(&h, &l1)) == NULL)
			abort();
		if (handover_parse(t1, l1, HANDOVER_FORMAT + 1, &again, err2,
		    sizeof(err2)) != 0)
			abort();
		if ((t2 = handover_format(&again, &l2)) == NULL)
			abort();
		if (l1 != l2 || memcmp(t1, t2, l1) != 0)
			abort();
		free(t1);
		free(t2);
		if (h.h_format > HANDOVER_FORMAT_OLDEST &&
		    handover_parse(copy, len, HANDOVER_FORMAT_OLDEST, &again,
		    err2, sizeof(err2)) != -1)
			abort();
	}
	free(copy);
	return 0;
}
