// SPDX-License-Identifier: GPL-2.0
/*
 * Livepatch whose klp_objects print every (un)patch callback, for vmlinux
 * and two target modules.
 *
 * Only livepatch_callbacks_busymod has a function replaced; the other
 * objects have none and are there for their callbacks alone.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/workqueue.h>
#include <linux/delay.h>
#include <linux/string.h>

#include "livepatch-callbacks-busymod.h"
#include "livepatch-callbacks-info.h"

/* Returned by every pre-patch callback; -19 (-ENODEV) makes it fail. */
static int pre_patch_ret;
module_param(pre_patch_ret, int, 0644);
MODULE_PARM_DESC(pre_patch_ret, "pre_patch_callback return value (default=0)");

/*
 * When set, only the object of this name ("vmlinux" or a module name)
 * returns pre_patch_ret, so that a failure can come after objects whose
 * pre-patch callback succeeded (they get their post-unpatch callback).
 */
static char *pre_patch_fail_object;
module_param(pre_patch_fail_object, charp, 0644);
MODULE_PARM_DESC(pre_patch_fail_object,
		 "only this object's pre_patch_callback returns pre_patch_ret (default: every object)");

/* Before an object is patched; non-zero refuses the patch (or module). */
static int pre_patch_callback(struct klp_object *obj)
{
	const char *name = obj->name ? obj->name : "vmlinux";

	callback_info(__func__, obj);
	if (pre_patch_fail_object && *pre_patch_fail_object &&
	    strcmp(pre_patch_fail_object, name))
		return 0;
	return pre_patch_ret;
}

/* After an object is patched and the transition has completed. */
static void post_patch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
}

/* Before an object is unpatched; only if post_patch ran for it. */
static void pre_unpatch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
}

/*
 * A deliberately broken build for the harness's own tests: with
 * -DLIVEPATCH_CALLBACKS_TEST_MUTANT the demo forgets to report the
 * post-unpatch callback of module objects, a regression `klp-harness
 * explore` must catch. Never defined in a normal build.
 */
#ifdef LIVEPATCH_CALLBACKS_TEST_MUTANT
#define skips_report(obj)	((obj)->mod != NULL)
#else
#define skips_report(obj)	false
#endif

/* After an object is unpatched; only if pre_patch ran for it. */
static void post_unpatch_callback(struct klp_object *obj)
{
	if (skips_report(obj))
		return;
	callback_info(__func__, obj);
}

/* A helper: checkpatch flags a bare pr_info("%s\n", __func__) as ftrace-like. */
static void log_func(const char *func)
{
	pr_info("%s\n", func);
}

/*
 * Runs instead of busymod_work_func() once a task has been switched.
 * With busymod's block_patched=Y it stays, silently, until that flag is
 * cleared, so that a transition away from this patch (an atomic replace)
 * finds the task in this function and stalls.
 */
static void patched_work_func(struct work_struct *work)
{
	struct busymod_work *busy = container_of(work, struct busymod_work, work);

	log_func(__func__);
	complete(&busy->started);
	while (READ_ONCE(busy->block_patched))
		msleep(20);
}

static struct klp_func no_funcs[] = {
	{ }
};

static struct klp_func busymod_funcs[] = {
	{
		.old_name = "busymod_work_func",
		.new_func = patched_work_func,
	}, { }
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
	}, {
		.name = "livepatch_callbacks_mod",
		.funcs = no_funcs,
		.callbacks = {
			.pre_patch = pre_patch_callback,
			.post_patch = post_patch_callback,
			.pre_unpatch = pre_unpatch_callback,
			.post_unpatch = post_unpatch_callback,
		},
	}, {
		.name = "livepatch_callbacks_busymod",
		.funcs = busymod_funcs,
		.callbacks = {
			.pre_patch = pre_patch_callback,
			.post_patch = post_patch_callback,
			.pre_unpatch = pre_unpatch_callback,
			.post_unpatch = post_unpatch_callback,
		},
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init livepatch_callbacks_demo_init(void)
{
	return klp_enable_patch(&patch);
}

/* Nothing to do: the patch is disabled through sysfs before rmmod. */
static void __exit livepatch_callbacks_demo_exit(void)
{
}

module_init(livepatch_callbacks_demo_init);
module_exit(livepatch_callbacks_demo_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("Livepatch callbacks test: livepatch with callbacks on three objects");
