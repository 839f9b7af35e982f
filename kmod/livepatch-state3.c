// SPDX-License-Identifier: GPL-2.0
/*
 * The next cumulative patch after livepatch-state2, with the same version 2
 * of the console_loglevel state: each of the two can replace the other,
 * since a state's version may stay the same from one patch to the next.
 */

#include "livepatch-state2.c"
