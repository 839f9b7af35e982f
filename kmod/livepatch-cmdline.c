// SPDX-License-Identifier: GPL-2.0
/*
 * The simplest livepatch: replace cmdline_proc_show() (fs/proc/cmdline.c)
 * so that reading /proc/cmdline shows that the patch is live. A scenario
 * greps /proc/cmdline into the kernel log, so the transcript records
 * whether the patched or the original function served the read.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>

static int livepatch_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s: this has been live patched\n", THIS_MODULE->name);
	return 0;
}

static struct klp_func funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = livepatch_cmdline_proc_show,
	}, { }
};

static struct klp_object objs[] = {
	{
		.name = NULL,	/* vmlinux */
		.funcs = funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int livepatch_cmdline_init(void)
{
	return klp_enable_patch(&patch);
}

static void livepatch_cmdline_exit(void)
{
}

module_init(livepatch_cmdline_init);
module_exit(livepatch_cmdline_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch test: replace the /proc/cmdline output");
MODULE_INFO(livepatch, "Y");
