import Foundation

/// `klp-harness vm`: for each requested kernel, make sure its image and
/// headers are here and build kmod/ against it; then boot each in the
/// hermetic guest (one at a time, or `jobs` at once), run the suite there
/// and report. A kernel crash fails the scenario it happened in; a VM that
/// does not boot or dies without a crash is an infrastructure error.
public struct KernelMatrix: Sendable {
    public struct Options: Sendable {
        /// Aliases (`6.1`, `6.12`, `all`) or exact Debian releases.
        public var kernels: [String] = []
        /// Built kernel source trees.
        public var kernelTrees: [String] = []
        public var jobs = 1
        /// nil: probe for KVM and fall back to TCG.
        public var accelerator: Accelerator?
        public var cpus = 2
        public var memory = "1G"
        /// Kernel arguments after the hermetic guest's own (`vm --append`).
        public var kernelAppend = ""
        public var wallClockLimit: Duration = .seconds(900)
        public var scenarioTimeout = SuiteRunner.defaultTimeoutSeconds
        public var results = "results"
        public var scenarios = "scenarios"
        public var kmod = "kmod"
        public var names: [String] = []
        public var shard: (index: Int, count: Int)?
        public var cache = ".cache"
        public var buildRoot = ".build/kmod"
        public var guestRoot = ".build/guest"
        public var vng = ".venv/bin/vng"
        /// What a --kernel-tree's .config must set (merge_config.sh syntax).
        public var configFragment = "kmod/klp-harness.config"
        /// Run this shell command in the guest instead of the suite.
        public var exec: String?
        /// Run the explorer in the guest instead of the suite.
        public var explore: ExploreOptions?

        public init() {}
    }

    /// `--explore N --seed S [--compare]`.
    public struct ExploreOptions: Sendable {
        public var count: Int
        public var seed: UInt64
        /// Record on every kernel and compare their transcripts, no model.
        public var compare = false
        public var mutation: CallbackModel.Mutation?
        public var timeout = Explorer.defaultTimeoutSeconds
        /// Test only: generated sequence K crashes the kernel (`explore
        /// --crash-in-sequence`).
        public var crashInSequence: Int?

        public init(count: Int, seed: UInt64) {
            self.count = count
            self.seed = seed
        }

        /// The guest runner's arguments for one boot: generated sequences
        /// from `first` on, or the bodies in `sequencesFile`.
        func arguments(sequencesFile: String? = nil, first: Int = 1) -> [String] {
            var words = ["explore", "--seed", String(seed), "--count", String(count), "--timeout", String(timeout)]
            if compare { words.append("--record-transcripts") }
            if let sequencesFile { words += ["--sequences", sequencesFile] }
            if let mutation { words += ["--model-mutation", mutation.rawValue] }
            if sequencesFile == nil, let crashInSequence { words += ["--crash-in-sequence", String(crashInSequence)] }
            if sequencesFile == nil, first > 1 { words += ["--first", String(first)] }
            return words
        }
    }

    public var options: Options
    /// Progress for people (stderr).
    public var log: @Sendable (String) -> Void
    /// KTAP or the summary (stdout).
    public var output: @Sendable (String) -> Void

    public init(options: Options, log: @escaping @Sendable (String) -> Void, output: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.log = log
        self.output = output
    }

    /// A kernel ready to boot: image, and kmod/ built for it.
    struct PreparedKernel: Sendable {
        var kernel: ProvisionedKernel
        var modules: String

        /// What QEMU boots: the ELF vmlinux when it has a PVH entry point
        /// (no decompression, no real-mode set-up), else the bzImage.
        var bootImage: String { kernel.vmlinux ?? kernel.image }
    }

    /// One requested kernel after preparation.
    enum Preparation: Sendable {
        case ready(PreparedKernel)
        /// Its image could not be downloaded or unpacked, or kmod/ could
        /// not be built for it: this kernel's `infrastructure` row, while
        /// the other kernels still boot.
        case failed(release: String, error: HarnessError)

        var ready: PreparedKernel? {
            if case .ready(let kernel) = self { kernel } else { nil }
        }

        /// The kernel, or its failure thrown (for callers with one kernel).
        func get() throws(HarnessError) -> PreparedKernel {
            switch self {
            case .ready(let kernel): return kernel
            case .failed(_, let error): throw error
            }
        }
    }

    public func run() throws -> ExitStatus {
        // First: a Ctrl-C while a kernel is downloaded, unpacked or
        // extracted must stop the tool and report the interruption (130),
        // not the tool's failure, and must never kill an apt-get install.
        Interruption.install()
        // Parse the scenarios on the host first: a malformed file or an
        // unknown name is bad input before any kernel is fetched or booted,
        // and the host tells the guest exactly which scenarios to run.
        let planned = options.exec == nil && options.explore == nil
            ? try ScenarioSuite.select(directory: absolute(options.scenarios), names: options.names, shard: options.shard).scenarios
            : []
        let preparations = try prepareKernels()
        let streaming = preparations.count == 1
        let outcomes = KernelOutcomes(count: preparations.count)
        // Indexes into `preparations` of the kernels that boot.
        let bootable = preparations.indices.filter { preparations[$0].ready != nil }
        for (index, preparation) in preparations.enumerated() {
            guard case .failed(let release, let error) = preparation else { continue }
            // The explorer compares kernels with each other: all or none.
            if options.explore != nil { throw error }
            outcomes.set(index, unprepared(release: release, error: error, planned: planned, alone: streaming))
        }
        let prepared = bootable.compactMap { preparations[$0].ready }
        guard let first = prepared.first else {
            return report(outcomes.all, streaming: streaming)
        }
        let probeStarted = ContinuousClock.now
        let choice = options.accelerator.map { Accelerator.Choice(accelerator: $0, reason: "forced with --accel") }
            ?? Accelerator.probe(kernel: first.bootImage, cache: "\(absolute(options.cache))/accelerator")
        let probeTime = options.accelerator == nil ? "; decided in \((ContinuousClock.now - probeStarted).secondsText)" : ""
        log("VMs use \(choice.accelerator.rawValue.uppercased()) (\(choice.reason)\(probeTime)), \(options.cpus) vCPUs, \(options.memory), limit \(options.wallClockLimit.secondsText) each")

        var runner = ""
        if options.exec == nil {
            try FileBytes.makeDirectories(absolute(options.guestRoot))
            runner = GuestImage.strippedRunner(try Self.executablePath(), into: absolute(options.guestRoot))
        }
        let guestRunner = runner
        if let explore = options.explore {
            // Each kernel's results folder and guest image for the whole
            // exploration, as for the suite (vmRunLocks).
            let locks = try prepared.map { try vmRunLocks($0.kernel.release) }
            let images = try prepared.map { try guestImage(for: $0, runner: guestRunner) }
            let session = ExploreMatrix(vm: self, explore: explore, prepared: prepared, images: images,
                                         accelerator: choice.accelerator)
            return try withExtendedLifetime(locks) { try session.run() }
        }
        let runOne: @Sendable (Int) -> Void = { index in
            guard !Interruption.isRequested else { return }
            let outcome = options.exec == nil
                ? runSuite(prepared[index], runner: guestRunner, accelerator: choice.accelerator, streaming: streaming, planned: planned)
                : runCommand(prepared[index], accelerator: choice.accelerator)
            outcomes.set(bootable[index], outcome)
            if !streaming {
                log("\(outcome.release): \(outcome.summaryLine)")
            }
        }
        Self.concurrently(prepared.count, width: options.jobs, runOne)
        return report(outcomes.all, streaming: streaming)
    }

    /// The run's reports (junit.xml, the HTML page, the matrix) and its exit status.
    func report(_ all: [KernelOutcome], streaming: Bool) -> ExitStatus {
        if options.exec == nil {
            let documents = all.compactMap(\.document)
            try? JUnitReport.write(documents, to: "\(absolute(options.results))/junit.xml")
            // This run's kernels only, even if results/ holds older ones;
            // from the documents and files in memory, never read back.
            let reported = all.compactMap(\.reportedRun)
            if !reported.isEmpty {
                let page = "\(absolute(options.results))/index.html"
                do {
                    try HTMLReport.write(ResultsArchive(root: absolute(options.results), kernels: reported), to: page)
                    log("HTML report: \(page)")
                } catch {
                    log("warning: no HTML report: \(error)")
                }
            }
            if !streaming {
                for line in MatrixSummary(outcomes: all).render() { output(line) }
            }
        }
        if Interruption.isRequested {
            log("interrupted by \(Interruption.signalName): QEMU was stopped; what the guests finished is in \(absolute(options.results))")
            return Interruption.exitStatus
        }
        return ExitStatus.overall(all.map(\.status))
    }

    /// A short stable name for a path (64-bit FNV-1a, in hex).
    static func digest(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    /// Runs `body` for 0..<count, exactly `width` at a time: one thread
    /// each, however many CPUs (-j).
    static func concurrently(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let next = Counter()
        let group = DispatchGroup()
        for _ in 0..<min(max(1, width), count) {
            group.enter()
            Thread {
                while let index = next.take(below: count) { body(index) }
                group.leave()
            }.start()
        }
        group.wait()
    }

    /// Names are resolved first, all of them: an unknown release or a
    /// broken apt ends the whole run before anything is fetched (exit 2 or
    /// 3). After that each kernel stands alone: one that cannot be fetched,
    /// unpacked or built for becomes its own infrastructure row. Bad input
    /// (an unbuilt --kernel-tree, a kmod/ without Kbuild) still ends the run.
    func prepareKernels() throws -> [Preparation] {
        let apt = Apt(log: log)
        // Only kernel trees asked for: no Debian kernel by default.
        let requested = options.kernels.isEmpty && !options.kernelTrees.isEmpty ? [] : KernelSelection.expand(options.kernels)
        var releases: [String] = []
        for name in requested {
            let release = try KernelSelection(name).resolve(apt: apt)
            log("kernel \(name) is \(release)")
            if !releases.contains(release) { releases.append(release) }
        }
        var kernels: [(release: String, provisioned: Result<ProvisionedKernel, HarnessError>)] = []
        let cache = absolute(options.cache)
        for release in releases {
            kernels.append((release, try Self.perKernel {
                let lock = try lock("\(cache)/kernels", release, for: "the kernel cache of \(release)", bound: Self.provisioningBound)
                return try withExtendedLifetime(lock) {
                    try KernelProvisioner(cacheDirectory: cache, apt: apt).provision(release: release)
                }
            }))
        }
        var seen = Set(releases)
        for tree in options.kernelTrees {
            let kernel = try KernelTree.provision(absolute(tree), fragment: absolute(options.configFragment))
            log("kernel tree \(tree) is \(kernel.release)")
            if seen.insert(kernel.release).inserted { kernels.append((kernel.release, .success(kernel))) }
        }
        // Another --kmod (a test's deliberately broken copy) builds apart,
        // so it never replaces the .ko files of kmod/.
        let source = absolute(options.kmod)
        let outputRoot = source == absolute("kmod") ? absolute(options.buildRoot) : "\(absolute(options.buildRoot))-\(Self.digest(source))"
        // The programs scenarios start come from tools/hammer in every case:
        // a broken kmod/ copy still needs the real hammer.
        let builder = ModuleBuilder(sourceDirectory: source, outputRoot: outputRoot,
                                    programSourceDirectory: absolute("tools/hammer"), log: log)
        return try kernels.map { release, provisioned in
            switch provisioned {
            case .failure(let error):
                return .failed(release: release, error: error)
            case .success(let kernel):
                log("building kmod/ against \(kernel.buildDirectory), and tools/hammer")
                let built = try Self.perKernel {
                    let lock = try lock(outputRoot, kernel.release, for: "the modules built for \(kernel.release)", bound: Self.buildBound)
                    return try withExtendedLifetime(lock) { try builder.build(for: kernel) }
                }
                switch built {
                case .success(let modules): return .ready(PreparedKernel(kernel: kernel, modules: modules))
                case .failure(let error): return .failed(release: kernel.release, error: error)
                }
            }
        }
    }

    /// Runs one kernel's preparation step: an infrastructure error becomes
    /// that kernel's failure; bad input and interruptions end the run.
    static func perKernel<Value>(_ step: () throws -> Value) throws -> Result<Value, HarnessError> {
        do {
            return .success(try step())
        } catch {
            let harnessError = error as? HarnessError ?? HarnessError.infrastructure("\(error)")
            guard harnessError.status == .infrastructure, !Interruption.isRequested else { throw error }
            return .failure(harnessError)
        }
    }

    /// The outcome of a kernel that never booted: its reason on stderr, and
    /// a results folder whose planned scenarios are `infrastructure` entries
    /// with that reason, so junit.xml, results.json, the page and the
    /// matrix all show it.
    func unprepared(release: String, error: HarnessError, planned: [Scenario], alone: Bool) -> KernelOutcome {
        log("\(release): error: \(error.problem)")
        if let remedy = error.remedy { log("\(release): hint: \(remedy)") }
        log("\(release): not booted\(alone ? "" : "; the other kernels run")")
        let folder = ResultsFolder(root: absolute(options.results), release: release)
        var outcome = KernelOutcome(release: release, status: .infrastructure, elapsed: .zero, resultsFolder: folder.root, document: nil)
        guard options.exec == nil else { return outcome }
        let reason = "not booted: \(error.problem)"
        var document = ResultsDocument(kernel: release, planned: planned.count)
        document.infrastructureError = reason
        document.addUnreported(planned.map(\.name), status: .infrastructure, reason: reason)
        outcome.document = document
        do {
            try folder.prepare()
            try folder.write(document)
        } catch {
            log("\(release): warning: could not write its results folder: \(error)")
        }
        return outcome
    }

    /// How long a run waits for another run's kernel provisioning: that
    /// run's own steps are bounded (apt-get download and install 900 s
    /// each, unpacking and depmod 300 s each), so this is their sum.
    static let provisioningBound: Duration = .seconds(2400)
    /// Another run's `make` of kmod/ is bounded by 600 s, its guest image
    /// takes seconds.
    static let buildBound: Duration = .seconds(660)

    /// The lock `<directory>/<release>.lock`, waiting (bounded, announced)
    /// while another run on this checkout holds it.
    func lock(_ directory: String, _ release: String, for what: String, bound: Duration) throws -> FileLock {
        try FileBytes.makeDirectories(directory)
        return try FileLock.acquire("\(directory)/\(release).lock", for: what, bound: bound) { log($0) }
    }

    /// A second run on the same results folder waits for the first: both
    /// then keep whole results, where the winner's used to overwrite the
    /// loser's. It waits at most what a whole VM run may take (its own
    /// --vm-timeout, which another run's default matches), plus a minute for
    /// the guest image; past that the other run is stuck, and this one says
    /// so instead of waiting for ever.
    var resultsBound: Duration { options.wallClockLimit + .seconds(60) }

    /// The locks one kernel's VM run holds from clearing its results folder
    /// to its last boot, always taken in this order (results, guest image)
    /// so that two runs can never hold one each and wait for the other.
    func vmRunLocks(_ release: String) throws -> [FileLock] {
        let results = absolute(options.results)
        // Refuses a results root that is a link or another user's (exit 2)
        // before a lock file is created inside it.
        _ = try DirectoryHandle.open(creating: results)
        let resultsLock = try lock(results, release, for: "\(options.results)/\(release)", bound: resultsBound)
        let guestLock = try lock(absolute(options.guestRoot), release,
                                 for: "the guest image \(options.guestRoot)/\(release).cpio", bound: resultsBound)
        return [resultsLock, guestLock]
    }

    /// The suite in the hermetic guest: an initramfs of this runner, the
    /// modules and the scenarios, booted straight from the kernel.
    func runSuite(_ prepared: PreparedKernel, runner: String, accelerator: Accelerator, streaming: Bool, planned: [Scenario]) -> KernelOutcome {
        let release = prepared.kernel.release
        let folder = ResultsFolder(root: absolute(options.results), release: release)
        var outcome = KernelOutcome(release: release, status: .infrastructure, elapsed: .zero, resultsFolder: folder.root, document: nil)
        let started = ContinuousClock.now
        do {
            let locks = try vmRunLocks(release)
            defer { withExtendedLifetime(locks) {} }
            try folder.prepare()
            let consoleLog = "\(folder.root)/\(ResultsFolder.consoleLogName)"
            try FileBytes.write("", to: consoleLog)
            let image = try guestImage(for: prepared, runner: runner)
            log("booting \(release) (\(prepared.bootImage.hasSuffix("vmlinux") ? "vmlinux through PVH" : "bzImage")) with a \(image.baseLength / 1_000_000) MB guest image; console log \(consoleLog)")
            if !options.kernelAppend.isEmpty {
                log("\(release): kernel command line: \(QemuLauncher.kernelCommandLine(appending: options.kernelAppend))")
            }
            let emit: ((String) -> Void)? = streaming ? { output($0) } : nil
            let run = SuiteBoots(
                machine: machine(prepared, image: image, folder: folder, accelerator: accelerator),
                scenarios: planned, scenarioTimeout: options.scenarioTimeout, emit: emit,
                // Progress for people: on stderr when several kernels run
                // (stdout then carries the matrix) or stdout is not a terminal.
                narrate: !streaming || isatty(1) == 0)
            let result = try run.run()
            outcome.elapsed = ContinuousClock.now - started
            outcome.document = result.document
            outcome.artifacts = result.artifacts
            outcome.status = result.status
            if let reason = result.infrastructureError {
                log("\(release): error: \(reason); console log: \(consoleLog)")
                log("\(release): hint: an infrastructure problem, not a scenario result. Read the end of \(consoleLog) and \(folder.root)/qemu.log; raise --vm-timeout if the machine is only slow")
            } else if Interruption.isRequested {
                log("\(release): stopped by \(Interruption.signalName) after \(outcome.elapsed.secondsText)")
            } else {
                log("\(release): VM finished in \(outcome.elapsed.secondsText) (\(result.boots) boot\(result.boots == 1 ? "" : "s"), exit \(result.status.rawValue))")
            }
        } catch {
            outcome.elapsed = ContinuousClock.now - started
            log("\(release): error: \(error)")
            outcome.status = (error as? HarnessError)?.status ?? .infrastructure
            // Not written to its folder (writing may be what failed), but
            // the run's junit.xml and matrix must not show this kernel as
            // an empty pass.
            var document = ResultsDocument(kernel: release, planned: planned.count)
            document.infrastructureError = "\(error)"
            document.addUnreported(planned.map(\.name), status: .infrastructure, reason: "the run stopped before this scenario: \(error)")
            outcome.document = document
        }
        return outcome
    }

    /// How one kernel's hermetic guest boots, results in `folder`.
    func machine(_ prepared: PreparedKernel, image: GuestImage, folder: ResultsFolder, accelerator: Accelerator) -> GuestMachine {
        GuestMachine(release: prepared.kernel.release, kernel: prepared.bootImage, image: image,
                     launcher: QemuLauncher(accelerator: accelerator, cpus: options.cpus, memory: options.memory,
                                            extraKernelArguments: options.kernelAppend),
                     folder: folder, wallClock: Deadline(after: options.wallClockLimit),
                     consoleLog: "\(folder.root)/\(ResultsFolder.consoleLogName)", log: { log($0) })
    }

    /// The hermetic guest's image for one kernel: busybox, the runner and
    /// its libraries, the modules built for it, the scenarios.
    func guestImage(for prepared: PreparedKernel, runner: String) throws -> GuestImage {
        let imagePath = "\(absolute(options.guestRoot))/\(prepared.kernel.release).cpio"
        // The modules must not be rebuilt under the image while it copies them.
        let modules = try lock(URL(fileURLWithPath: prepared.modules).deletingLastPathComponent().path, prepared.kernel.release,
                               for: "the modules built for \(prepared.kernel.release)", bound: Self.buildBound)
        return try withExtendedLifetime(modules) {
            try GuestImage.write(runner: runner, modules: prepared.modules, scenarios: absolute(options.scenarios),
                                 flavor: .hermetic, to: imagePath)
        }
    }

    /// `--exec`: a shell command in a virtme-ng guest that shares the host's
    /// file system read-only (the harness's own guest tests run the test
    /// binary from the build tree that way). The command's exit status is
    /// written by the guest into the results folder and read from there:
    /// vng's own status says more about its stdout channel than about the
    /// command.
    func runCommand(_ prepared: PreparedKernel, accelerator: Accelerator) -> KernelOutcome {
        let release = prepared.kernel.release
        let resultsRoot = absolute(options.results)
        let directory = "\(resultsRoot)/\(release)"
        let consoleLog = "\(directory)/exec-console.log"
        let statusFile = "\(directory)/exec-status"
        var outcome = KernelOutcome(release: release, status: .infrastructure, elapsed: .zero, resultsFolder: directory, document: nil)
        let started = ContinuousClock.now
        do {
            let vng = options.vng.contains("/") ? absolute(options.vng) : options.vng
            if options.vng.contains("/") && !KernelFile.exists(vng) {
                throw HarnessError.infrastructure("virtme-ng is not installed at \(vng)", remedy: "run scripts/setup (it creates .venv with virtme-ng)")
            }
            try FileBytes.makeDirectories(directory)
            try? FileBytes.remove(statusFile)
            let launcher = VirtmeLauncher(vng: vng, accelerator: accelerator, cpus: options.cpus,
                                          memory: options.memory, wallClockLimit: options.wallClockLimit)
            let command = ["env", "KLP_HARNESS_MODULES=\(prepared.modules)", "KLP_HARNESS_RELEASE=\(release)",
                           "KLP_HARNESS_RESULTS=\(resultsRoot)", "sh", "-c", "\(options.exec ?? "true")\necho $? > \(VirtmeLauncher.shellQuoted(statusFile))"]
            log("booting \(release) with virtme-ng for --exec; console log \(consoleLog)")
            var lines = LineSplitter()
            let vm = try launcher.boot(image: prepared.kernel.image, writableDirectory: resultsRoot, command: command, consoleLog: consoleLog) { chunk in
                lines.feed(chunk).forEach(output)
            }
            lines.finish().forEach(output)
            outcome.elapsed = ContinuousClock.now - started
            let recorded = (try? KernelFile.readValue(statusFile)).flatMap { Int32($0) }
            if Interruption.isRequested {
                outcome.status = Interruption.exitStatus
            } else if vm.timedOut {
                log("\(release): error: the VM exceeded its wall-clock limit of \(options.wallClockLimit.secondsText) and was killed; console log: \(consoleLog)")
            } else if let recorded {
                log("\(release): VM finished in \(outcome.elapsed.secondsText) (the command exited \(recorded); vng \(vm.status))")
                outcome.status = recorded == 0 ? .passed : ExitStatus(rawValue: recorded) ?? .failed
            } else {
                log("\(release): error: the command recorded no exit status (vng exited \(vm.status)) after \(outcome.elapsed.secondsText); console log: \(consoleLog)")
                log("\(release): hint: an infrastructure problem: the guest did not boot or QEMU failed; look for 'Kernel panic' or QEMU errors in the console log")
            }
        } catch {
            outcome.elapsed = ContinuousClock.now - started
            log("\(release): error: \(error)")
            outcome.status = (error as? HarnessError)?.status ?? .infrastructure
        }
        return outcome
    }

    /// This very binary, which becomes the guest's runner.
    static func executablePath() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }
}

/// What one kernel's VM run came to.
public struct KernelOutcome: Sendable {
    public var release: String
    public var status: ExitStatus
    public var elapsed: Duration
    public var resultsFolder: String
    public var document: ResultsDocument?
    /// Each scenario's files as the hermetic run holds them; nil when the
    /// run did not return (then its folder has no results.json either).
    public var artifacts: [String: ScenarioArtifacts]?

    /// The kernel as the HTML page shows it, if its hermetic run returned.
    var reportedRun: ResultsArchive.KernelRun? {
        guard let document, let artifacts else { return nil }
        return ResultsArchive.KernelRun(release: document.kernel, directory: resultsFolder, document: document, delivered: artifacts)
    }

    var summaryLine: String {
        let counts = document.map { StatusTally($0.scenarios.map(\.status)).closingCount } ?? "no results"
        return "\(status) after \(elapsed.secondsText): \(counts); results in \(resultsFolder)"
    }
}

extension MatrixSummary {
    /// The table after a multi-kernel run, with each VM's verdict and time
    /// as its last row. Here, not in Reporting: Reporting knows results
    /// folders, not VMs.
    init(outcomes: [KernelOutcome]) {
        self.init(documents: outcomes.map { $0.document ?? ResultsDocument(kernel: $0.release, planned: 0) },
                  footer: ("VM", outcomes.map { "\($0.status) (\($0.elapsed.secondsText))" }))
    }
}

/// Hands out indexes to the -j worker threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}

/// Collects outcomes from concurrent VM runs.
final class KernelOutcomes: @unchecked Sendable {
    private let lock = NSLock()
    private var outcomes: [KernelOutcome?]

    init(count: Int) { outcomes = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ outcome: KernelOutcome) { lock.withLock { outcomes[index] = outcome } }

    var all: [KernelOutcome] { lock.withLock { outcomes.compactMap { $0 } } }
}

/// Splits a byte stream into lines. It works on bytes: in a String, "\r\n"
/// (what a guest's tty sends) is one Character and never equals "\n".
/// A line's trailing "\r" is dropped.
struct LineSplitter {
    private var pending: [UInt8] = []

    mutating func feed(_ chunk: Data) -> [String] {
        pending += chunk
        var lines: [String] = []
        var start = 0
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(Self.text(pending[start..<newline]))
            start = newline + 1
        }
        pending.removeFirst(start)
        return lines
    }

    mutating func finish() -> [String] {
        defer { pending = [] }
        return pending.isEmpty ? [] : [Self.text(pending[...])]
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.last == UInt8(ascii: "\r") ? bytes.dropLast() : bytes, as: UTF8.self)
    }
}
