import Foundation

/// `klp-harness vm`: for each requested kernel, make sure its image and
/// headers are here and build kmod/ against it; then boot each with
/// virtme-ng (one at a time, or `jobs` at once), run the suite in the guest
/// and report. A VM that does not boot or dies is an infrastructure error,
/// never a failing scenario.
public struct VMSession: Sendable {
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
        public var wallClockLimit: Duration = .seconds(900)
        public var scenarioTimeout = 60
        public var results = "results"
        public var scenarios = "scenarios"
        public var kmod = "kmod"
        public var names: [String] = []
        public var shard: (index: Int, count: Int)?
        public var cache = ".cache"
        public var buildRoot = ".build/kmod"
        public var vng = ".venv/bin/vng"
        /// Run this shell command in the guest instead of the suite.
        public var exec: String?

        public init() {}
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
    }

    public func run() throws -> ExitStatus {
        // Parse the scenarios on the host first: a malformed file or an
        // unknown name is bad input before any kernel is fetched or booted,
        // and the names let the host report scenarios a dead VM never ran.
        let planned = options.exec == nil
            ? try ScenarioSuite.select(directory: absolute(options.scenarios), names: options.names, shard: options.shard).scenarios.map(\.name)
            : []
        let prepared = try prepareKernels()
        let vng = options.vng.contains("/") ? absolute(options.vng) : options.vng
        if options.vng.contains("/") && !KernelFile.exists(vng) {
            throw HarnessError.infrastructure("virtme-ng is not installed at \(vng)", remedy: "run scripts/setup (it creates .venv with virtme-ng)")
        }
        let choice = options.accelerator.map { Accelerator.Choice(accelerator: $0, reason: "forced with --accel") }
            ?? Accelerator.probe(image: prepared[0].kernel.image)
        let launcher = VirtmeLauncher(vng: vng, accelerator: choice.accelerator, cpus: options.cpus,
                                      memory: options.memory, wallClockLimit: options.wallClockLimit)
        log("VMs use \(choice.accelerator.rawValue.uppercased()) (\(choice.reason)), \(options.cpus) vCPUs, \(options.memory), limit \(options.wallClockLimit.secondsText) each")

        let streaming = prepared.count == 1
        let outcomes = KernelOutcomes(count: prepared.count)
        let gate = DispatchSemaphore(value: max(1, options.jobs))
        DispatchQueue.concurrentPerform(iterations: prepared.count) { index in
            gate.wait()
            defer { gate.signal() }
            let outcome = boot(prepared[index], launcher: launcher, streaming: streaming, planned: planned)
            outcomes.set(index, outcome)
            if !streaming {
                log("\(outcome.release): \(outcome.summaryLine)")
            }
        }
        let all = outcomes.all
        if options.exec == nil {
            let documents = all.compactMap(\.document)
            try? JUnitReport.write(documents, to: "\(absolute(options.results))/junit.xml")
            // This run's kernels only, even if results/ holds older ones.
            let reported = all.compactMap { try? ResultsArchive.load($0.resultsFolder).kernels.first }
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
        return Self.overallStatus(all.map(\.status))
    }

    /// 1 if any scenario failed anywhere, else 3 if any VM failed, else the
    /// worst remaining code: a real regression is never masked by an
    /// infrastructure hiccup on another kernel.
    static func overallStatus(_ statuses: [ExitStatus]) -> ExitStatus {
        for wanted in [ExitStatus.failed, .infrastructure, .interruptedByTerm, .interruptedByInt, .interruptedByHangup, .interruptedByBrokenPipe, .badInput] where statuses.contains(wanted) {
            return wanted
        }
        return statuses.allSatisfy { $0 == .skipped } ? .skipped : .passed
    }

    func prepareKernels() throws -> [PreparedKernel] {
        let apt = Apt(log: log)
        var kernels: [ProvisionedKernel] = []
        // Only kernel trees asked for: no Debian kernel by default.
        let requested = options.kernels.isEmpty && !options.kernelTrees.isEmpty ? [] : KernelSelection.expand(options.kernels)
        for name in requested {
            let release = try KernelSelection(name).resolve(apt: apt)
            log("kernel \(name) is \(release)")
            kernels.append(try KernelProvisioner(cacheDirectory: absolute(options.cache), apt: apt).provision(release: release))
        }
        for tree in options.kernelTrees {
            let kernel = try KernelTree.provision(absolute(tree))
            log("kernel tree \(tree) is \(kernel.release)")
            kernels.append(kernel)
        }
        var seen = Set<String>()
        kernels = kernels.filter { seen.insert($0.release).inserted }
        let builder = ModuleBuilder(sourceDirectory: absolute(options.kmod), outputRoot: absolute(options.buildRoot))
        return try kernels.map { kernel in
            log("building kmod/ against \(kernel.buildDirectory)")
            return PreparedKernel(kernel: kernel, modules: try builder.build(for: kernel))
        }
    }

    func guestCommand(for prepared: PreparedKernel, resultsRoot: String) throws -> [String] {
        if let exec = options.exec {
            return ["env", "KLP_HARNESS_MODULES=\(prepared.modules)", "KLP_HARNESS_RELEASE=\(prepared.kernel.release)",
                    "KLP_HARNESS_RESULTS=\(resultsRoot)", "sh", "-c", exec]
        }
        var command = [try Self.executablePath(), "run",
                       "--modules", prepared.modules, "--scenarios", absolute(options.scenarios),
                       "--results", resultsRoot, "--timeout", String(options.scenarioTimeout)]
        if let shard = options.shard { command += ["--shard", "\(shard.index)/\(shard.count)"] }
        return command + options.names
    }

    func boot(_ prepared: PreparedKernel, launcher: VirtmeLauncher, streaming: Bool, planned: [String]) -> KernelOutcome {
        let release = prepared.kernel.release
        let resultsRoot = absolute(options.results)
        let folder = ResultsFolder(root: resultsRoot, release: release)
        // A guest command (--exec) must not wipe the suite's results.
        let consoleLog = "\(folder.root)/\(options.exec == nil ? ResultsFolder.consoleLogName : "exec-console.log")"
        var outcome = KernelOutcome(release: release, status: .infrastructure, elapsed: .zero, resultsFolder: folder.root, document: nil)
        let started = ContinuousClock.now
        do {
            let command = try guestCommand(for: prepared, resultsRoot: resultsRoot)
            if options.exec == nil {
                try folder.prepare()
                try? ResultsFolder.write(command.joined(separator: " ") + "\n", to: "\(folder.root)/guest-command.txt")
            } else {
                try ResultsFolder.makeDirectories(folder.root)
            }
            log("booting \(release); console log \(consoleLog)")
            var progress = KTAPProgress()
            var lines = LineSplitter()
            var announced = false
            // Progress for people: as lines on stderr when several kernels
            // run (stdout then carries the matrix) or stdout is not a
            // terminal; with one kernel on a terminal the KTAP shows it.
            let narrate = !streaming || isatty(1) == 0
            let handle: (String) -> Void = { line in
                let elapsed = (ContinuousClock.now - started).secondsText
                if !announced {
                    announced = true
                    log("\(release): guest is up (\(elapsed) after boot started)")
                }
                progress.consume(line)
                if streaming || options.exec != nil { output(line) }
                guard narrate, options.exec == nil else { return }
                if line.hasPrefix("# starting ") {
                    log("\(release): [\(elapsed)] \(line.dropFirst(2)) of \(progress.plan ?? planned.count)")
                } else if let result = KTAPProgress.parseResult(line) {
                    log("\(release): [\(elapsed)] \(line.prefix(120))\(result.ok ? "" : "  (see \(folder.root)/\(result.name)/diff.txt)")")
                }
            }
            let vm = try launcher.boot(image: prepared.kernel.image, writableDirectory: resultsRoot, command: command, consoleLog: consoleLog) { chunk in
                lines.feed(chunk).forEach(handle)
            }
            lines.finish().forEach(handle)
            outcome.elapsed = ContinuousClock.now - started
            outcome.document = try? ResultsDocument.read(from: folder.jsonPath)
            outcome.status = classify(vm, progress: progress, release: release, consoleLog: consoleLog, elapsed: outcome.elapsed)
            if outcome.status == .infrastructure && options.exec == nil {
                outcome.document = recordInfrastructureError(in: folder, release: release, planned: planned,
                                                             reason: vm.timedOut ? "the VM exceeded its wall-clock limit; see console.log" : "the VM exited before the runner finished; see console.log")
            }
        } catch {
            outcome.elapsed = ContinuousClock.now - started
            log("\(release): error: \(error)")
            outcome.status = (error as? HarnessError)?.status ?? .infrastructure
        }
        return outcome
    }

    /// Keeps results.json and junit.xml valid after a VM failure: what the
    /// guest finished stays, the rest is listed as an infrastructure error.
    func recordInfrastructureError(in folder: ResultsFolder, release: String, planned: [String], reason: String) -> ResultsDocument {
        var document = (try? ResultsDocument.read(from: folder.jsonPath)) ?? ResultsDocument(kernel: release, planned: planned.count)
        document.infrastructureError = reason
        document.complete = false
        document.addUnreported(planned, status: "infrastructure", reason: reason)
        try? folder.write(document)
        return document
    }

    func classify(_ vm: Subprocess.Outcome, progress: KTAPProgress, release: String, consoleLog: String, elapsed: Duration) -> ExitStatus {
        if vm.timedOut {
            log("\(release): error: the VM exceeded its wall-clock limit of \(options.wallClockLimit.secondsText) and was killed; console log: \(consoleLog)")
            log("\(release): hint: an infrastructure problem, not a scenario result. Read the end of the console log; raise --vm-timeout if the machine is only slow")
            return .infrastructure
        }
        let finished = options.exec == nil ? progress.isComplete : vm.status != 255
        if !finished {
            log("\(release): error: the VM exited (status \(vm.status)) after \(elapsed.secondsText) before the \(options.exec == nil ? "runner" : "command") finished; console log: \(consoleLog)")
            log("\(release): hint: an infrastructure problem, not a scenario result: the guest did not boot, panicked, or QEMU failed. Look for 'Kernel panic' or QEMU errors in the console log")
            return .infrastructure
        }
        log("\(release): VM finished in \(elapsed.secondsText) (exit \(vm.status))")
        return ExitStatus(rawValue: vm.status) ?? .failed
    }

    func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// This very binary, which the guest runs from the shared host file system.
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

    var summaryLine: String {
        let counts = document.map { doc in
            let passed = doc.scenarios.filter { $0.status == "pass" }.count
            return "\(passed) passed, \(doc.scenarios.count - passed) failed"
        } ?? "no results"
        return "\(status) after \(elapsed.secondsText): \(counts); results in \(resultsFolder)"
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

/// Splits a byte stream into lines.
struct LineSplitter {
    private var pending = ""

    mutating func feed(_ chunk: Data) -> [String] {
        pending += String(decoding: chunk, as: UTF8.self)
        var lines: [String] = []
        while let newline = pending.firstIndex(of: "\n") {
            lines.append(String(pending[..<newline]))
            pending = String(pending[pending.index(after: newline)...])
        }
        return lines
    }

    mutating func finish() -> [String] {
        defer { pending = "" }
        return pending.isEmpty ? [] : [pending]
    }
}
