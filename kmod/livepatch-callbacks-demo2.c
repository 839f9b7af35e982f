// SPDX-License-Identifier: GPL-2.0
/*
 * Second livepatch with callbacks on vmlinux only, loaded on top of
 * livepatch_callbacks_demo.
 *
 * With replace=1 it is an atomic-replace patch: it takes over from the
 * patches already loaded, whose unpatch callbacks are then not called.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

static int replace;
module_param(replace, int, 0644);
MODULE_PARM_DESC(replace, "load as an atomic-replace patch (default=0)");

/* Only a vmlinux object here, so the callbacks need no module state. */
static int pre_patch_callback(struct klp_object *obj)
{
	pr_info("%s: vmlinux\n", __func__);
	return 0;
}

static void post_patch_callback(struct klp_object *obj)
{
	pr_info("%s: vmlinux\n", __func__);
}

static void pre_unpatch_callback(struct klp_object *obj)
{
	pr_info("%s: vmlinux\n", __func__);
}

static void post_unpatch_callback(struct klp_object *obj)
{
	pr_info("%s: vmlinux\n", __func__);
}

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

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init livepatch_callbacks_demo2_init(void)
{
	/* A module parameter so one .ko serves both scenarios. */
	patch.replace = replace;
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
