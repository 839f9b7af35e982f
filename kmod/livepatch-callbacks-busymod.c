// SPDX-License-Identifier: GPL-2.0
/*
 * Target module whose work function can be held on the stack of a
 * kworker, so that a livepatch replacing it cannot finish its transition.
 *
 * block_transition=Y keeps busymod_work_func() looping until the flag is
 * cleared (through sysfs or on module unload), which makes the stalled
 * transition scenario deterministic instead of depending on a sleep time.
 *
 * block_patched=Y does the same for a livepatch's replacement of the work
 * function (livepatch_callbacks_demo's patched_work_func()), which runs
 * when this module loads under that patch: a task then sits in the new
 * function, so replacing that patch (atomic replace) stalls too.
 * Clearing it through sysfs returns once the work function has returned.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <linux/delay.h>

#include "livepatch-callbacks-busymod.h"

static bool block_transition;
module_param(block_transition, bool, 0644);
MODULE_PARM_DESC(block_transition,
		 "keep busymod_work_func() running until cleared (default=N)");

/*
 * The test harness matches "<function name>[ enter| exit]" log lines
 * verbatim. Going through a helper keeps __func__ as the source of the text
 * (a bare pr_info("%s exit\n", __func__) is flagged by checkpatch).
 */
static void log_func(const char *func, const char *event)
{
	pr_info("%s%s\n", func, event);
}

static void busymod_work_handler(struct work_struct *work);
static struct busymod_work busy = {
	.work = __WORK_INITIALIZER(busy.work, busymod_work_handler),
	.started = COMPLETION_INITIALIZER(busy.started),
};

/*
 * Writing N waits for the work to return, so that the next action of a
 * test (say, disabling the patch) does not find the task still inside
 * the patched function. With block_transition also set, clear that one
 * first: the work cannot return before.
 */
static int block_patched_set(const char *val, const struct kernel_param *kp)
{
	int ret = param_set_bool(val, kp);

	if (!ret && !READ_ONCE(busy.block_patched))
		flush_work(&busy.work);
	return ret;
}

static const struct kernel_param_ops block_patched_ops = {
	.set = block_patched_set,
	.get = param_get_bool,
};

module_param_cb(block_patched, &block_patched_ops, &busy.block_patched, 0644);
MODULE_PARM_DESC(block_patched,
		 "keep a livepatch's replacement of busymod_work_func() running until cleared (default=N)");

/*
 * livepatch_callbacks_demo replaces this function by name, so it must
 * stay a real symbol, called through a pointer: noinline keeps the
 * compiler from folding it away.
 */
static noinline void busymod_work_func(struct work_struct *work)
{
	log_func(__func__, " enter");

	/*
	 * Blocking: init may return now, with this task inside. Otherwise
	 * the handler completes once both lines are out.
	 */
	if (READ_ONCE(block_transition))
		complete(&busy.started);

	/*
	 * Sleep, not spin: the task must sit inside this function (so the
	 * livepatch stack check refuses to switch it) without hogging a CPU.
	 */
	while (READ_ONCE(block_transition))
		msleep(20);

	log_func(__func__, " exit");
}

/*
 * When this module loads while livepatch_callbacks_demo is already enabled,
 * the kernel patches it as it comes, so the call below runs the demo's
 * replacement. The demo's replacement completes busy.started itself (it
 * may block); completing here as well lets init return after any other
 * replacement too; a second complete() is harmless.
 */
static void (*work_func)(struct work_struct *work) = busymod_work_func;

static void busymod_work_handler(struct work_struct *work)
{
	/*
	 * An indirect call through a pointer the compiler must re-read: a
	 * direct call could reach a compiler-made clone, which the livepatch
	 * (which looks the function up by name) would not replace.
	 */
	READ_ONCE(work_func)(work);
	complete(&busy.started);
}

static int __init livepatch_callbacks_busymod_init(void)
{
	log_func(__func__, "");
	schedule_work(&busy.work);

	/*
	 * Do not return before the work function has printed what it prints
	 * before it blocks (or returns), so that the log order does not
	 * depend on scheduling.
	 */
	wait_for_completion(&busy.started);

	return 0;
}

static void __exit livepatch_callbacks_busymod_exit(void)
{
	WRITE_ONCE(block_transition, false);
	WRITE_ONCE(busy.block_patched, false);
	flush_work(&busy.work);
	log_func(__func__, "");
}

module_init(livepatch_callbacks_busymod_init);
module_exit(livepatch_callbacks_busymod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch callbacks test: busy target module");
