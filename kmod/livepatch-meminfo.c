// SPDX-License-Identifier: GPL-2.0
/*
 * A livepatch of meminfo_proc_show() (fs/proc/meminfo.c) whose klp_patch
 * .replace comes from the "replace" parameter, so one module serves both
 * sides of atomic replace (Documentation/livepatch/cumulative-patches.rst):
 * with replace=0 it stacks on the patches already loaded, with replace=1 it
 * disables and replaces all of them. It patches a different function than
 * livepatch-cmdline, so greps of /proc/cmdline and /proc/meminfo show which
 * patches are live at any point.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>

static bool replace;
module_param(replace, bool, 0444);
MODULE_PARM_DESC(replace, "replace every livepatch loaded before this one (default N)");

static int livepatch_meminfo_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s: this has been live patched\n", THIS_MODULE->name);
	return 0;
}

static struct klp_func funcs[] = {
	{
		.old_name = "meminfo_proc_show",
		.new_func = livepatch_meminfo_proc_show,
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

static int livepatch_meminfo_init(void)
{
	/* Read once at load: klp_enable_patch() takes .replace from here. */
	patch.replace = replace;
	return klp_enable_patch(&patch);
}

static void livepatch_meminfo_exit(void)
{
}

module_init(livepatch_meminfo_init);
module_exit(livepatch_meminfo_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch test: replace the /proc/meminfo output, optionally as an atomic replace");
MODULE_INFO(livepatch, "Y");
