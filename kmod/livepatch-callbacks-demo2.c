// SPDX-License-Identifier: GPL-2.0
/*
 * Second livepatch with callbacks on vmlinux only, loaded on top of
 * livepatch_callbacks_demo.
 *
 * With replace=1 it is an atomic-replace patch: it takes over from the
 * patches already loaded, whose unpatch callbacks are then not called.
 *
 * With mod_object=Y it also has an object for livepatch_callbacks_mod.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

#include "livepatch-callbacks-info.h"

static int replace;
module_param(replace, int, 0644);
MODULE_PARM_DESC(replace, "load as an atomic-replace patch (default=0)");

/*
 * A patch before livepatch_callbacks_demo on klp_patches that takes
 * livepatch_callbacks_mod: when the demo's pre-patch callback then refuses
 * that module, klp_cleanup_module_patches_limited() (kernel/livepatch/
 * core.c) runs this patch's unpatch callbacks for it while it is still
 * COMING. No other test module reaches that path.
 */
static bool mod_object;
module_param(mod_object, bool, 0444);
MODULE_PARM_DESC(mod_object, "add an object for livepatch_callbacks_mod (default=N)");

static int pre_patch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
	return 0;
}

static void post_patch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
}

static void pre_unpatch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
}

static void post_unpatch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
}

static struct klp_func no_funcs[] = {
	{ }
};

#define DEMO2_CALLBACKS {				\
	.pre_patch = pre_patch_callback,		\
	.post_patch = post_patch_callback,		\
	.pre_unpatch = pre_unpatch_callback,		\
	.post_unpatch = post_unpatch_callback,		\
}

static struct klp_object objs[] = {
	{
		.name = NULL,	/* vmlinux */
		.funcs = no_funcs,
		.callbacks = DEMO2_CALLBACKS,
	}, { }
};

/* The same vmlinux object, then livepatch_callbacks_mod's (mod_object=Y). */
static struct klp_object objs_with_mod[] = {
	{
		.name = NULL,	/* vmlinux */
		.funcs = no_funcs,
		.callbacks = DEMO2_CALLBACKS,
	}, {
		.name = "livepatch_callbacks_mod",
		.funcs = no_funcs,
		.callbacks = DEMO2_CALLBACKS,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init livepatch_callbacks_demo2_init(void)
{
	/* Module parameters so one .ko serves every scenario. */
	patch.replace = replace;
	if (mod_object)
		patch.objs = objs_with_mod;
	return klp_enable_patch(&patch);
}

static void __exit livepatch_callbacks_demo2_exit(void)
{
}

module_init(livepatch_callbacks_demo2_init);
module_exit(livepatch_callbacks_demo2_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("Livepatch callbacks test: second livepatch, optionally atomic replace");
