/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The line every callback of the two callbacks livepatches prints, in the
 * format tools/testing/selftests/livepatch/test-callbacks.sh expects,
 * shared so that livepatch_callbacks_demo and livepatch_callbacks_demo2
 * cannot drift apart. Include it after defining pr_fmt.
 */
#ifndef LIVEPATCH_CALLBACKS_INFO_H
#define LIVEPATCH_CALLBACKS_INFO_H

#include <linux/module.h>
#include <linux/livepatch.h>

static const char *const module_state[] = {
	[MODULE_STATE_LIVE]	= "[MODULE_STATE_LIVE] Normal state",
	[MODULE_STATE_COMING]	= "[MODULE_STATE_COMING] Full formed, running module_init",
	[MODULE_STATE_GOING]	= "[MODULE_STATE_GOING] Going away",
	[MODULE_STATE_UNFORMED]	= "[MODULE_STATE_UNFORMED] Still setting it up",
};

/*
 * Callbacks only run for loaded objects, so obj->mod is NULL exactly for
 * vmlinux.
 */
static void callback_info(const char *callback, struct klp_object *obj)
{
	if (obj->mod)
		pr_info("%s: %s -> %s\n", callback, obj->mod->name,
			module_state[obj->mod->state]);
	else
		pr_info("%s: vmlinux\n", callback);
}

#endif
