// SPDX-License-Identifier: GPL-2.0
/*
 * Cumulative livepatch that changes a system state and records the change
 * with the klp_state API (Documentation/livepatch/system-state.rst): while
 * it is enabled, console_loglevel is CONSOLE_LOGLEVEL_MOTORMOUTH, and the
 * value it replaced is kept in the state's data, to be put back when the
 * patch is disabled.
 *
 * The state's id is 1. This file as it is builds version 1, which keeps
 * its own copy of the old value and never looks at earlier patches.
 * livepatch-state2.c and livepatch-state3.c build it as version 2, which
 * takes the change over from an installed patch instead of making it
 * again. The kernel refuses to load a patch whose version of a state is
 * lower than the installed one's (klp_is_patch_compatible() in
 * kernel/livepatch/state.c), so version 1 cannot replace version 2.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/printk.h>
#include <linux/slab.h>

#define LOGLEVEL_STATE	1
#ifndef LOGLEVEL_STATE_VERSION
#define LOGLEVEL_STATE_VERSION	1
#endif

static struct klp_patch patch;

/*
 * The state recorded by the installed patch that this one replaces, for a
 * version that knows how to take it over; NULL when there is none.
 */
static struct klp_state *installed_state(void)
{
	if (LOGLEVEL_STATE_VERSION < 2)
		return NULL;
	return klp_get_prev_state(LOGLEVEL_STATE);
}

static int allocate_loglevel_state(void)
{
	struct klp_state *state;

	if (installed_state()) {
		pr_info("%s: space to store console_loglevel already allocated\n",
			__func__);
		return 0;
	}
	state = klp_get_state(&patch, LOGLEVEL_STATE);
	if (!state)
		return -EINVAL;
	state->data = kzalloc(sizeof(int), GFP_KERNEL);
	if (!state->data)
		return -ENOMEM;
	pr_info("%s: allocating space to store console_loglevel\n", __func__);
	return 0;
}

static void fix_console_loglevel(void)
{
	struct klp_state *state = klp_get_state(&patch, LOGLEVEL_STATE);
	struct klp_state *installed = installed_state();

	if (installed) {
		/* The level is already raised: keep the saved value. */
		pr_info("%s: taking over the console_loglevel change\n",
			__func__);
		state->data = installed->data;
		return;
	}
	pr_info("%s: fixing console_loglevel\n", __func__);
	*(int *)state->data = console_loglevel;
	console_loglevel = CONSOLE_LOGLEVEL_MOTORMOUTH;
}

/*
 * While an installed patch still holds the change (this patch's
 * transition is being reversed), undoing it is that patch's business.
 */
static void restore_console_loglevel(void)
{
	struct klp_state *state = klp_get_state(&patch, LOGLEVEL_STATE);

	if (installed_state()) {
		pr_info("%s: passing the console_loglevel change back to the old livepatch\n",
			__func__);
		return;
	}
	pr_info("%s: restoring console_loglevel\n", __func__);
	console_loglevel = *(int *)state->data;
}

static void free_loglevel_state(void)
{
	struct klp_state *state = klp_get_state(&patch, LOGLEVEL_STATE);

	if (installed_state()) {
		pr_info("%s: keeping space to store console_loglevel\n",
			__func__);
		return;
	}
	pr_info("%s: freeing space for the stored console_loglevel\n",
		__func__);
	kfree(state->data);
}

/* Only a vmlinux object here, so the callbacks need no module state. */
static int pre_patch_callback(struct klp_object *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	return allocate_loglevel_state();
}

static void post_patch_callback(struct klp_object *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	fix_console_loglevel();
}

static void pre_unpatch_callback(struct klp_object *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	restore_console_loglevel();
}

static void post_unpatch_callback(struct klp_object *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	free_loglevel_state();
}

/* The state is changed by the callbacks alone: no function is patched. */
static struct klp_func no_funcs[] = {
	{ }
};

static struct klp_object objs[] = {
	{
		.name = NULL,	/* vmlinux */
		.funcs = no_funcs,
		.callbacks = {
			.pre_patch = pre_patch_callback,
			.post_patch = post_patch_callback,
			.pre_unpatch = pre_unpatch_callback,
			.post_unpatch = post_unpatch_callback,
		},
	}, { }
};

static struct klp_state states[] = {
	{
		.id = LOGLEVEL_STATE,
		.version = LOGLEVEL_STATE_VERSION,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
	.states = states,
	.replace = true,
};

static int __init livepatch_state_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit livepatch_state_exit(void)
{
}

module_init(livepatch_state_init);
module_exit(livepatch_state_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("Livepatch test: console_loglevel system state, version "
		   __stringify(LOGLEVEL_STATE_VERSION));
