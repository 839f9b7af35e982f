import ArgumentParser
import KlpHarness

extension Accelerator: ExpressibleByArgument {}

struct VMCommand: HarnessSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Build kmod/ for a kernel, boot it in a hermetic QEMU guest and run the suite inside.",
        discussion: """
            Run from the repository root, as root (it may apt-get the kernel's headers and \
            image), with this runner already built (scripts/selftest builds it; vm does not). \
            Steps, each announced on stderr:
              1. resolve the kernel: '6.1' (Debian bookworm's default -amd64 kernel), '6.12' \
            (bookworm's 6.12 +deb12-amd64), or an exact release such as 6.1.0-56-amd64;
              2. install linux-headers-<release> if missing; unpack linux-image-<release> \
            under .cache/kernels/ (nothing is installed in /boot);
              3. build kmod/ in .build/kmod/<release>/;
              4. write the guest's initramfs, .build/guest/<release>.cpio: busybox, this \
            runner and the C libraries it links, the modules, the scenarios and a small init; \
            the guest uses nothing of the host's file system;
              5. pick the accelerator: KVM if a short test boot shows it works (remembered \
            in .cache/accelerator), TCG otherwise; --accel skips the probe;
              6. boot the kernel with QEMU directly, its ELF vmlinux through the PVH entry \
            point (the bzImage where it has none); the init runs 'klp-harness run', whose \
            KTAP streams to stdout as scenarios finish.

            With --explore N the init runs 'klp-harness explore' instead: N generated \
            sequences checked against the model of the callback rules (1 vCPU unless \
            --cpus says otherwise); see 'klp-harness explore --help' and docs/explore.md. \
            Each kernel's folder then holds explore/ and, as after the suite, results.json \
            (one entry per sequence, seed<S>-sequence<N>) and junit.xml; results/junit.xml \
            and results/index.html cover every kernel.

            If the kernel crashes during a scenario, that scenario fails with the crash and \
            the guest boots again for the scenarios after it; with --explore, the same for \
            a sequence, whose crash is then shrunk to a scenario in <release>/explore/. --exec boots with virtme-ng \
            instead, sharing the host's root file system read-only; only --exec uses it.

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
              klp-harness vm --append log_buf_len=4M
              klp-harness vm --explore 200 --seed 1 --kernel all
              klp-harness vm --explore 200 --seed 1 --compare
              klp-harness vm --explore 30 --seed 1 --compare --kernel 6.1 --kernel 6.12 --kernel 6.1-cloud -j 2
              git bisect run sh -c 'make -j$(nproc) olddefconfig vmlinux bzImage modules || exit 125; \
            exec ~/klp-harness/scripts/selftest --kernel-tree "$PWD" --bisect --cpus 1'

            A --kernel-tree's .config is checked against kmod/klp-harness.config first \
            (exit 4 naming what it lacks). Two runs on one checkout take turns on what they \
            share (kernel cache, .build/kmod, .build/guest, results/<release>) and say when \
            they wait. See docs/vm.md.
            """
    )

    @OptionGroup(title: "Kernels and guests") var machine: MachineOptions

    @OptionGroup(title: "The suite in each guest") var suite: SuiteOptions

    @OptionGroup(title: "Exploring instead of the suite") var exploring: ExploreOptions

    @Flag(help: ArgumentHelp("For 'git bisect run': exit 125 (skip this commit) for every outcome that is no verdict on the kernel (bad input 2, infrastructure 3, skipped 4); 0 and 1 stay, and an interruption (above 127) stops the bisect. See docs/vm.md."))
    var bisect = false

    @Flag(name: .customLong("resolve-only"), help: "Print the Debian release each --kernel names (e.g. 6.1 -> 6.1.0-56-amd64) and exit, for scripts.")
    var resolveOnly = false

    func run() throws {
        if resolveOnly {
            let apt = Apt(log: { printError("klp-harness: \($0)") })
            for name in KernelSelection.expand(machine.kernel) {
                printLine(try KernelSelection(name).resolve(apt: apt))
            }
            return
        }
        var options = KernelMatrix.Options(machine: machine, suite: suite)
        if let append = machine.append {
            guard machine.exec == nil else {
                throw HarnessError(.badInput, "--append sets the hermetic guest's kernel command line; --exec boots virtme-ng, which has its own",
                                   remedy: "drop --append, or --exec")
            }
            options.kernelAppend = try QemuLauncher.validatedExtraArguments(append)
        }
        if let explore = exploreOptions {
            options.explore = explore
            options.cpus = machine.cpus ?? 1
            if exploring.compare && options.kernels.isEmpty && options.kernelTrees.isEmpty { options.kernels = ["all"] }
        }
        let session = KernelMatrix(options: options, log: { printError("klp-harness: \($0)") }, output: { printLine($0) })
        guard bisect else {
            try session.run().exitUnlessPassed()
            return
        }
        let status: ExitStatus
        do {
            status = try session.run()
        } catch {
            status = report(error)
        }
        try Self.exitForBisect(status)
    }

    func validate() throws {
        // One kernel cannot disagree with itself: say so before anything
        // is fetched or built (ExploreMatrix.compare checks the resolved
        // releases again, for two names of one kernel).
        if exploring.compare, !machine.kernel.isEmpty || !machine.kernelTree.isEmpty,
           (machine.kernel.isEmpty ? 0 : KernelSelection.expand(machine.kernel).count) + machine.kernelTree.count < 2 {
            throw ValidationError("--compare runs the same sequences on two or more kernels: repeat --kernel (e.g. --kernel 6.1 --kernel 6.12 --kernel 6.1-cloud), or give none for 6.1 and 6.12")
        }
    }

    /// What `--explore N` asks of each guest, or nil for the suite.
    var exploreOptions: KernelMatrix.ExploreOptions? {
        guard let count = exploring.explore else { return nil }
        var explore = KernelMatrix.ExploreOptions(count: count, seed: exploring.seed)
        explore.compare = exploring.compare
        explore.mutation = exploring.modelMutation
        explore.crashInSequence = exploring.crashInSequence
        // explore's own default, not the suite's: a sequence is shorter
        // than a scenario, and both commands must agree.
        explore.timeout = suite.givenTimeout ?? Explorer.defaultTimeoutSeconds
        return explore
    }

    /// `--bisect`'s exit: says when a code becomes 125, so the bisect log
    /// shows why git skipped the commit.
    static func exitForBisect(_ status: ExitStatus) throws {
        let code = status.bisectCode
        if code != status.rawValue {
            printError("klp-harness: --bisect: exit \(status.rawValue) (\(status)) is no verdict on this kernel; exiting 125 so that git bisect skips this commit")
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// `vm --explore`: the explorer in each guest instead of the suite.
struct ExploreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Run N generated sequences checked against the model of the callback rules instead of the suite (see 'klp-harness explore --help'); results in results/<release>/explore/.", valueName: "N"))
    var explore: Int?

    @Option(help: "The explorer's seed: the same seed gives the same sequences on every kernel.")
    var seed: UInt64 = 1

    @Flag(help: "With --explore: run the same sequences on two or more kernels (--kernel, repeated; default: 6.1 and 6.12) with no model, report which kernels agree on the first sequence whose transcripts are not all equal, and shrink it, keeping those groups, to a minimal scenario in results/compare/.")
    var compare = false

    @Option(name: .customLong("model-mutation"), help: ArgumentHelp("Test only: explore with a deliberately wrong model rule.", visibility: .hidden))
    var modelMutation: CallbackModel.Mutation?

    @Option(name: .customLong("crash-in-sequence"), help: ArgumentHelp("Test only: generated sequence K also loads livepatch-callbacks-crash.ko crash=oops, which crashes the kernel.", valueName: "K", visibility: .hidden))
    var crashInSequence: Int?

    func validate() throws {
        if let explore, explore < 1 { throw ValidationError("--explore needs at least 1 sequence") }
        if explore == nil && (compare || modelMutation != nil || crashInSequence != nil) {
            throw ValidationError("--compare, --model-mutation and --crash-in-sequence go with --explore N")
        }
        if let crashInSequence, crashInSequence < 1 || compare {
            throw ValidationError("--crash-in-sequence needs a sequence number of at least 1, and not --compare")
        }
    }
}

/// The options of `vm` that choose the kernels and shape their guests.
struct MachineOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Kernel to boot: 6.1, 6.12, all (both), a flavour (6.1-cloud, 6.1-rt, 6.12-cloud, 6.12-rt), or an exact Debian release. Repeat for a matrix. Default: 6.1.", valueName: "alias-or-release"))
    var kernel: [String] = []

    @Option(name: .customLong("kernel-tree"), help: ArgumentHelp("A kernel source tree you built (its vmlinux when it has a PVH entry point, else arch/x86/boot/bzImage; its build directory for kmod/). Repeatable; combines with --kernel.", valueName: "dir"))
    var kernelTree: [String] = []

    @Option(name: .customShort("j"), help: ArgumentHelp("Boot up to N kernels' VMs at once, each with its own results folder and console log.", valueName: "N"))
    var jobs = 1

    @Option(help: ArgumentHelp("Run this shell command in the guest instead of the suite (for debugging and the harness's own guest tests), booted with virtme-ng. The guest sees KLP_HARNESS_MODULES, KLP_HARNESS_RELEASE and KLP_HARNESS_RESULTS.", valueName: "command"))
    var exec: String?

    @Option(help: ArgumentHelp("Force an accelerator instead of probing: kvm or tcg.", valueName: "kvm|tcg"))
    var accel: Accelerator?

    @Option(help: "Guest vCPUs (default 2; 1 with --explore). With 2, the kernel's transitions take about 1 s each (the other CPU's idle task is only switched on the next retry).")
    var cpus: Int?

    @Option(help: ArgumentHelp("More kernel arguments for the guest, after the harness's own (e.g. 'log_buf_len=4M' for a scenario that prints more than the 128 KiB log ring holds). One line; the kernel takes 2,047 bytes in all. The run logs the whole command line.", valueName: "args"))
    var append: String?

    @Option(help: "Guest memory (QEMU -m syntax).")
    var memory = "1G"

    @Option(name: .customLong("vm-timeout"), help: ArgumentHelp("Wall-clock limit for the whole VM, in seconds; past it the VM is killed and the run is an infrastructure error.", valueName: "seconds"))
    var vmTimeout = 900

    @Option(help: ArgumentHelp("The livepatch module sources to build.", valueName: "dir"))
    var kmod = "kmod"

    @Option(help: ArgumentHelp("virtme-ng's vng executable, for --exec.", valueName: "path"))
    var vng = ".venv/bin/vng"

    @Option(help: ArgumentHelp("Test only: the kernel cache (default .cache), e.g. an empty folder to provision a kernel from nothing.", valueName: "dir", visibility: .hidden))
    var cache = ".cache"

    func validate() throws {
        guard (cpus ?? 1) > 0 else { throw ValidationError("--cpus must be at least 1") }
        guard jobs > 0 else { throw ValidationError("-j must be at least 1") }
        guard vmTimeout > 0 else { throw ValidationError("timeouts must be positive numbers of seconds") }
    }
}

extension KernelMatrix.Options {
    /// The session `vm`'s command line asks for: the one place its option
    /// groups become the library's options.
    init(machine: MachineOptions, suite: SuiteOptions) {
        self.init()
        kernels = machine.kernel
        kernelTrees = machine.kernelTree
        jobs = machine.jobs
        exec = machine.exec
        accelerator = machine.accel
        cpus = machine.cpus ?? 2
        memory = machine.memory
        wallClockLimit = .seconds(machine.vmTimeout)
        kmod = machine.kmod
        vng = machine.vng
        cache = machine.cache
        scenarioTimeout = suite.timeout
        results = suite.results
        scenarios = suite.scenarios
        names = suite.names
        shard = suite.slice
    }
}
