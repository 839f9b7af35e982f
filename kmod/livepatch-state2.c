// SPDX-License-Identifier: GPL-2.0
/*
 * livepatch-state.c's console_loglevel change as version 2 of its state:
 * loaded over livepatch-state (version 1) or another version 2 patch, it
 * takes the change over instead of making it again.
 */

#define LOGLEVEL_STATE_VERSION	2
#include "livepatch-state.c"
