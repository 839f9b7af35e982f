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
 *
 * "klp_pids" lists processes (up to 128) that are expected to switch to the
 * patched state: each of them can only enter the replacement once the
 * patching transition has moved it over (Documentation/livepatch/livepatch.rst,
 * "Consistency model"). "npids" counts those that have not called it yet,
 * so it reads 0 once every listed process has been patched. With no
 * klp_pids it stays 0.
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

#define MAX_PIDS	128

static atomic_long_t calls = ATOMIC_LONG_INIT(0);

static int klp_pids[MAX_PIDS];
static unsigned int nr_klp_pids;
module_param_array(klp_pids, int, &nr_klp_pids, 0);
MODULE_PARM_DESC(klp_pids, "pids expected to call the patched getpid (up to 128)");

static atomic_t npids = ATOMIC_INIT(0);

static int calls_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&calls));
}

static const struct kernel_param_ops calls_ops = {
	.get = calls_get,
};
module_param_cb(calls, &calls_ops, NULL, 0444);
MODULE_PARM_DESC(calls, "how many getpid calls the replacement has served");

static int npids_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&npids));
}

static const struct kernel_param_ops npids_ops = {
	.get = npids_get,
};
module_param_cb(npids, &npids_ops, NULL, 0444);
MODULE_PARM_DESC(npids, "how many klp_pids have not called the patched getpid yet");

/*
 * Clears the caller's entry in klp_pids the first time it gets here. Every
 * process may call this at once, hence cmpxchg() on the entry instead of a
 * lock: only the call that clears the entry counts it.
 */
static void forget_pid(pid_t pid)
{
	unsigned int i;

	for (i = 0; i < nr_klp_pids; i++) {
		if (READ_ONCE(klp_pids[i]) == pid &&
		    cmpxchg(&klp_pids[i], pid, 0) == pid) {
			atomic_dec(&npids);
			return;
		}
	}
}

/*
 * The same value as kernel/sys.c's getpid (the thread group id seen from
 * the caller's pid namespace): the point is to patch a hot function, not to
 * change what user space sees.
 */
static asmlinkage long livepatch_getpid(const struct pt_regs *regs)
{
	atomic_long_inc(&calls);
	if (atomic_read(&npids) > 0)
		forget_pid(current->pid);
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
	/* Before the patch is enabled: no call can come in yet. */
	atomic_set(&npids, nr_klp_pids);
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
