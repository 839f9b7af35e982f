/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The work item of livepatch_callbacks_busymod, shared with the livepatch
 * that replaces its work function: the replacement gets the work_struct
 * as its argument and finds the rest of this structure around it, as a
 * livepatch of a real driver knows the layout of the driver's data.
 */
#ifndef LIVEPATCH_CALLBACKS_BUSYMOD_H
#define LIVEPATCH_CALLBACKS_BUSYMOD_H

#include <linux/workqueue.h>
#include <linux/completion.h>

struct busymod_work {
	struct work_struct work;
	/* The work function (original or replacement) has printed its line. */
	struct completion started;
	/* A replacement of the work function keeps running while this is set. */
	bool block_patched;
};

#endif
