import ArgumentParser
import KlpHarness

extension Accelerator: ExpressibleByArgument {}

struct VMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Build kmod/ for a kernel, boot it with virtme-ng and run the suite inside.",
        discussion: """
            Run from the repository root, as root (it may apt-get the kernel's headers and \
            image). Steps, each announced on stderr:
              1. resolve the kernel: '6.1' (Debian bookworm's default -amd64 kernel), '6.12' \
            (bookworm's 6.12 +deb12-amd64), or an exact release such as 6.1.0-56-amd64;
              2. install linux-headers-<release> if missing; unpack linux-image-<release> \
            under .cache/kernels/ (nothing is installed in /boot);
              3. build kmod/ in .build/kmod/<release>/;
              4. boot with virtme-ng from .venv (scripts/setup makes it), using KVM if a short \
            test boot shows it works and TCG otherwise;
              5. run 'klp-harness run' in the guest; KTAP streams to stdout as scenarios finish.

            Results: results/<release>/ (see 'klp-harness run --help'), plus console.log, the \
            guest's console. With one kernel the guest's KTAP streams to stdout; with several, \
            each scenario's result is logged as it finishes and a kernel x scenario table ends \
            the run. A VM that does not boot, dies or exceeds --vm-timeout is an infrastructure \
            error (3), never a failing scenario (1); over several kernels a failing scenario \
            anywhere gives 1.

            Examples:
              klp-harness vm
              klp-harness vm --kernel all -j 2
              klp-harness vm --kernel-tree ~/src/linux
              klp-harness vm --kernel 6.12 --cpus 1
              klp-harness vm --accel tcg busy-target-module
            """
    )

    @Option(help: ArgumentHelp("Kernel to boot: 6.1, 6.12, all (both), or an exact Debian release. Repeat for a matrix. Default: 6.1.", valueName: "alias-or-release"))
    var kernel: [String] = []

    @Option(name: .customLong("kernel-tree"), help: ArgumentHelp("A kernel source tree you built (its arch/x86/boot/bzImage, modules and build directory). Repeatable; combines with --kernel.", valueName: "dir"))
    var kernelTree: [String] = []

    @Option(name: .customShort("j"), help: ArgumentHelp("Boot up to N kernels' VMs at once, each with its own results folder and console log.", valueName: "N"))
    var jobs = 1

    @Option(help: ArgumentHelp("Run this shell command in the guest instead of the suite (for debugging and the harness's own guest tests). The guest sees KLP_HARNESS_MODULES, KLP_HARNESS_RELEASE and KLP_HARNESS_RESULTS.", valueName: "command"))
    var exec: String?

    @Option(help: ArgumentHelp("Force an accelerator instead of probing: kvm or tcg.", valueName: "kvm|tcg"))
    var accel: Accelerator?

    @Option(help: "Guest vCPUs. With 2, the kernel's transitions take about 1 s each (the other CPU's idle task is only switched on the next retry).")
    var cpus = 2

    @Option(help: "Guest memory (QEMU -m syntax).")
    var memory = "1G"

    @Option(name: .customLong("vm-timeout"), help: ArgumentHelp("Wall-clock limit for the whole VM, in seconds; past it the VM is killed and the run is an infrastructure error.", valueName: "seconds"))
    var vmTimeout = 900

    @Option(help: ArgumentHelp("Per-scenario time limit inside the guest, in seconds.", valueName: "seconds"))
    var timeout = 60

    @Option(help: ArgumentHelp("Results root; the run writes <dir>/<release>/.", valueName: "dir"))
    var results = "results"

    @Option(help: ArgumentHelp("Directory of *.scenario files.", valueName: "dir"))
    var scenarios = "scenarios"

    @Option(help: ArgumentHelp("The livepatch module sources to build.", valueName: "dir"))
    var kmod = "kmod"

    @Option(help: ArgumentHelp("virtme-ng's vng executable.", valueName: "path"))
    var vng = ".venv/bin/vng"

    @Flag(name: .customLong("resolve-only"), help: "Print the Debian release each --kernel names (e.g. 6.1 -> 6.1.0-56-amd64) and exit, for scripts.")
    var resolveOnly = false

    @Option(help: ShardArgument.help)
    var shard: ShardArgument?

    @Argument(help: ArgumentHelp("Scenario names to run (default: all).", valueName: "scenario"))
    var names: [String] = []

    func validate() throws {
        guard cpus > 0 else { throw ValidationError("--cpus must be at least 1") }
        guard jobs > 0 else { throw ValidationError("-j must be at least 1") }
        guard vmTimeout > 0, timeout > 0 else { throw ValidationError("timeouts must be positive numbers of seconds") }
    }

    func run() throws {
        if resolveOnly {
            do {
                let apt = Apt(log: { printError("klp-harness: \($0)") })
                for name in KernelSelection.expand(kernel) {
                    printLine(try KernelSelection(name).resolve(apt: apt))
                }
            } catch {
                fail(with: error)
            }
            return
        }
        var options = VMSession.Options()
        options.kernels = kernel
        options.kernelTrees = kernelTree
        options.jobs = jobs
        options.exec = exec
        options.accelerator = accel
        options.cpus = cpus
        options.memory = memory
        options.wallClockLimit = .seconds(vmTimeout)
        options.scenarioTimeout = timeout
        options.results = results
        options.scenarios = scenarios
        options.kmod = kmod
        options.vng = vng
        options.names = names
        options.shard = shard.map { ($0.index, $0.count) }
        let session = VMSession(options: options, log: { printError("klp-harness: \($0)") }, output: { printLine($0) })
        let status: ExitStatus
        do {
            status = try session.run()
        } catch {
            fail(with: error)
        }
        if status != .passed { throw ExitCode(status.rawValue) }
    }
}
