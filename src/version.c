/*
 * The version of this program and of its hand-over format (echod.h).
 *
 * Compiled into each program rather than into libechod.a: the tests
 * build the same sources a second time with ECHOD_VERSION_OVERRIDE (a
 * newer version, to upgrade to) or ECHOD_HANDOVER_FORMAT_OVERRIDE (a
 * hand-over an older program must refuse).
 */
#include "autoconf.h"

#include "echod.h"
#include "handover.h"

#ifdef ECHOD_VERSION_OVERRIDE
const char	 echod_version[] = ECHOD_VERSION_OVERRIDE;
#else
const char	 echod_version[] = PACKAGE_VERSION;
#endif

#ifdef ECHOD_HANDOVER_FORMAT_OVERRIDE
const unsigned	 echod_handover_format = ECHOD_HANDOVER_FORMAT_OVERRIDE;
#else
const unsigned	 echod_handover_format = HANDOVER_FORMAT;
#endif
