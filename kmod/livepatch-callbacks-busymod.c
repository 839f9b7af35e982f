// SPDX-License-Identifier: GPL-2.0
/*
 * Target module whose work function can be held on the stack of a
 * kworker, so that a livepatch replacing it cannot finish its transition.
 *
 * block_transition=Y keeps busymod_work_func() looping until the flag is
 * cleared (through sysfs or on module unload), which makes the stalled
 * transition scenario deterministic instead of depending on a sleep time.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <linux/delay.h>

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
static DECLARE_WORK(work, busymod_work_handler);
static DECLARE_COMPLETION(busymod_work_started);

/*
 * livepatch_callbacks_demo replaces this function by name, so it must
 * stay a real symbol, called through a pointer: noinline keeps the
 * compiler from folding it away.
 */
static noinline void busymod_work_func(struct work_struct *work)
{
	log_func(__func__, " enter");
	complete(&busymod_work_started);

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
 * replacement, which knows nothing of busymod_work_started. Completing
 * here as well lets init return in that case too, instead of waiting
 * forever; a second complete() is harmless.
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
	complete(&busymod_work_started);
}

static int __init livepatch_callbacks_busymod_init(void)
{
	log_func(__func__, "");
	schedule_work(&work);

	/*
	 * Do not return before the work function has printed its entry
	 * line, so that the log order does not depend on scheduling.
	 */
	wait_for_completion(&busymod_work_started);

	/* Not blocking: let the work finish too, again for a fixed order. */
	if (!block_transition)
		flush_work(&work);

	return 0;
}

static void __exit livepatch_callbacks_busymod_exit(void)
{
	WRITE_ONCE(block_transition, false);
	flush_work(&work);
	log_func(__func__, "");
}

module_init(livepatch_callbacks_busymod_init);
module_exit(livepatch_callbacks_busymod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch callbacks test: busy target module");
