// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only livepatch whose pre-patch callback misbehaves on demand, so the
 * harness's own tests can prove that a kernel crash or warning during a
 * scenario fails that scenario. No shipped scenario loads it.
 *
 *   crash=warn   WARN() in the pre-patch callback: the patch still enables,
 *                the kernel is tainted W.
 *   crash=oops   a NULL pointer write in the pre-patch callback: an oops in
 *                the insmod that loads it (a panic with oops=panic).
 *   crash=hang   the pre-patch callback spins with preemption off: a soft
 *                lockup after about 20 s (a panic with softlockup_panic=1).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/string.h>

static char *crash = "none";
module_param(crash, charp, 0444);
MODULE_PARM_DESC(crash, "what the pre-patch callback does: none, warn, oops or hang");

static int pre_patch_callback(struct klp_object *obj)
{
	pr_info("pre_patch_callback: crash=%s\n", crash);
	if (!strcmp(crash, "warn"))
		WARN(1, "livepatch_callbacks_crash: warning on request\n");
	if (!strcmp(crash, "oops"))
		*(volatile int *)NULL = 1;
	if (!strcmp(crash, "hang")) {
		preempt_disable();
		for (;;)
			cpu_relax();
	}
	return 0;
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
		},
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init livepatch_callbacks_crash_init(void)
{
	return klp_enable_patch(&patch);
}

/* Nothing to do: the patch is disabled through sysfs before rmmod. */
static void __exit livepatch_callbacks_crash_exit(void)
{
}

module_init(livepatch_callbacks_crash_init);
module_exit(livepatch_callbacks_crash_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("Livepatch callbacks test: crashes or warns on request (harness tests only)");
