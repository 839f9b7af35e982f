// SPDX-License-Identifier: GPL-2.0
/*
 * Livepatch that replaces the getpid system call, so that the function it
 * patches is entered all the time by whatever user space runs: the stress
 * case for the patching transition (every task calls it) and for ftrace's
 * text patching of a hot function (arch/x86/kernel/alternative.c,
 * text_poke_bp_batch()).
 *
 * The replacement returns what getpid always returns, so processes keep
 * working while the patch comes and goes; "calls" counts how often it ran,
 * which shows the patch really was live.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/sched.h>
#include <linux/atomic.h>

/*
 * With CONFIG_ARCH_HAS_SYSCALL_WRAPPER (x86-64 since 4.17) the system call
 * table points at __x64_sys_<name>(const struct pt_regs *), see
 * arch/x86/include/asm/syscall_wrapper.h; that wrapper is the function
 * livepatch can replace by name.
 */
#if defined(CONFIG_X86_64) && defined(CONFIG_ARCH_HAS_SYSCALL_WRAPPER)
#define GETPID_SYMBOL	"__x64_sys_getpid"
#else
#error "livepatch-getpid: only x86-64 with syscall wrappers is supported"
#endif

static atomic_long_t calls = ATOMIC_LONG_INIT(0);

static int calls_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&calls));
}

static const struct kernel_param_ops calls_ops = {
	.get = calls_get,
};
module_param_cb(calls, &calls_ops, NULL, 0444);
MODULE_PARM_DESC(calls, "how many getpid calls the replacement has served");

/*
 * The same value as kernel/sys.c's getpid (the thread group id seen from
 * the caller's pid namespace): the point is to patch a hot function, not to
 * change what user space sees.
 */
static asmlinkage long livepatch_getpid(const struct pt_regs *regs)
{
	atomic_long_inc(&calls);
	return task_tgid_vnr(current);
}

static struct klp_func funcs[] = {
	{
		.old_name = GETPID_SYMBOL,
		.new_func = livepatch_getpid,
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

static int livepatch_getpid_init(void)
{
	return klp_enable_patch(&patch);
}

static void livepatch_getpid_exit(void)
{
}

module_init(livepatch_getpid_init);
module_exit(livepatch_getpid_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch test: replace the getpid system call");
MODULE_INFO(livepatch, "Y");
