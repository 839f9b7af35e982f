// SPDX-License-Identifier: GPL-2.0
/*
 * getpid-hammer N [BURST]: forks N processes that call getpid(2) in a loop,
 * through syscall(2) so that no C library cache can answer instead of the
 * kernel, until they are killed (scripts/int3-soak).
 *
 * getpid-hammer with no arguments: calls getpid(2) in a loop in its own
 * process, no fork, so the pid a scenario's `spawn` sees is the pid that
 * calls the patched getpid (the klp_pids list of livepatch-getpid). It
 * asks for SIGKILL when its parent dies (prctl(2) PR_SET_PDEATHSIG), so a
 * runner that dies without its clean-up leaves no hammer behind. With BURST, each process sleeps 1 ms after
 * every BURST calls: a vCPU that never idles answers another vCPU's
 * interrupts late under single-threaded TCG (QEMU switches vCPUs on a
 * 100 ms timer, or when one pauses or halts), and every text patch the
 * kernel makes waits for such an interrupt on each CPU.
 *
 * A call that returns anything but the caller's pid is reported and ends
 * that process with status 1: a livepatch of getpid must not change what
 * user space sees.
 *
 * Statically linked, so that a busybox initramfs can run it as it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static void hammer(long burst)
{
	const struct timespec pause = { .tv_nsec = 1000000 };
	long pid = getpid();

	for (long calls = 1;; calls++) {
		long got = syscall(SYS_getpid);

		if (got != pid) {
			fprintf(stderr, "getpid-hammer: getpid returned %ld in process %ld\n", got, pid);
			exit(1);
		}
		if (burst > 0 && calls % burst == 0)
			nanosleep(&pause, NULL);
	}
}

int main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 0;
	long burst = argc > 2 ? atol(argv[2]) : 0;
	int failed = 0;

	if (argc == 1) {
		pid_t parent = getppid();

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
			perror("getpid-hammer: prctl");
			return 1;
		}
		/* The parent may have died before prctl: then nobody kills us. */
		if (getppid() != parent)
			return 1;
		/*
		 * A 1 ms sleep every 1000 calls, as scripts/int3-soak's
		 * --burst 1000: in a tight loop, a 6.12 patching transition
		 * at 2 vCPUs under single-threaded TCG took 78 to 113 s
		 * (each text patch of klp_cond_resched_enable/disable waits
		 * for the busy vCPU; docs/vm.md, "The cost of single-threaded
		 * TCG"), over the 60 s scenario deadline.
		 */
		hammer(1000);
	}
	if (count < 1 || count > 256 || burst < 0) {
		fprintf(stderr, "usage: getpid-hammer [1..256 processes [calls between 1 ms sleeps]]\n");
		return 2;
	}
	for (int i = 0; i < count; i++) {
		pid_t child = fork();

		if (child < 0) {
			perror("getpid-hammer: fork");
			return 1;
		}
		if (child == 0)
			hammer(burst);
	}
	/* The children only end by a signal or a wrong answer. */
	for (int status; wait(&status) > 0;)
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			failed = 1;
	return failed;
}
