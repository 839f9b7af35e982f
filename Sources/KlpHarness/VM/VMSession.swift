import Foundation

/// `klp-harness vm`: resolve a kernel, make sure its image and headers are
/// here, build kmod/ against it, boot it with virtme-ng, run the suite in
/// the guest and report. A VM that does not boot or dies is an
/// infrastructure error, never a failing scenario.
public struct VMSession {
    public struct Options: Sendable {
        public var kernel = "6.1"
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
        public var cache = ".cache"
        public var buildRoot = ".build/kmod"
        public var vng = ".venv/bin/vng"

        public init() {}
    }

    public var options: Options
    /// Progress for people (stderr).
    public var log: @Sendable (String) -> Void
    /// The guest's KTAP, line by line (stdout).
    public var output: (String) -> Void

    public init(options: Options, log: @escaping @Sendable (String) -> Void, output: @escaping (String) -> Void) {
        self.options = options
        self.log = log
        self.output = output
    }

    public func run() throws -> ExitStatus {
        let apt = Apt(log: log)
        let release = try KernelSelection(options.kernel).resolve(apt: apt)
        log("kernel \(options.kernel) is \(release)")
        let kernel = try KernelProvisioner(cacheDirectory: absolute(options.cache), apt: apt).provision(release: release)
        log("building kmod/ against \(kernel.buildDirectory)")
        let modules = try ModuleBuilder(sourceDirectory: absolute(options.kmod), outputRoot: absolute(options.buildRoot)).build(for: kernel)

        let choice: Accelerator.Choice
        if let forced = options.accelerator {
            choice = Accelerator.Choice(accelerator: forced, reason: "forced with --accel")
        } else {
            choice = Accelerator.probe(image: kernel.image)
        }
        let vng = options.vng.contains("/") ? absolute(options.vng) : options.vng
        guard options.vng.contains("/") ? KernelFile.exists(vng) : true else {
            throw HarnessError.infrastructure("virtme-ng is not installed at \(vng)", remedy: "run scripts/setup (it creates .venv with virtme-ng)")
        }

        let resultsRoot = absolute(options.results)
        let folder = ResultsFolder(root: resultsRoot, release: release)
        try folder.prepare()
        let consoleLog = "\(folder.root)/\(ResultsFolder.consoleLogName)"
        let command = [try Self.executablePath(), "run",
                       "--modules", modules, "--scenarios", absolute(options.scenarios),
                       "--results", resultsRoot, "--timeout", String(options.scenarioTimeout)] + options.names
        let launcher = VirtmeLauncher(vng: vng, accelerator: choice.accelerator, cpus: options.cpus,
                                      memory: options.memory, wallClockLimit: options.wallClockLimit)
        log("booting \(release) with virtme-ng: \(choice.accelerator.rawValue.uppercased()) (\(choice.reason)), \(options.cpus) vCPUs, \(options.memory); limit \(options.wallClockLimit.secondsText); console log \(consoleLog)")

        let started = ContinuousClock.now
        var progress = KTAPProgress()
        var pending = ""
        var firstLine = true
        let outcome = try launcher.boot(image: kernel.image, writableDirectory: resultsRoot, command: command, consoleLog: consoleLog) { chunk in
            pending += String(decoding: chunk, as: UTF8.self)
            while let newline = pending.firstIndex(of: "\n") {
                let line = String(pending[..<newline])
                pending = String(pending[pending.index(after: newline)...])
                if firstLine {
                    firstLine = false
                    log("guest is running the suite (\((ContinuousClock.now - started).secondsText) after boot started)")
                }
                progress.consume(line)
                output(line)
            }
        }
        if !pending.isEmpty { progress.consume(pending); output(pending) }
        let elapsed = (ContinuousClock.now - started).secondsText
        try? ResultsFolder.write(command.joined(separator: " ") + "\n", to: "\(folder.root)/guest-command.txt")

        if outcome.timedOut {
            log("error: the VM exceeded its wall-clock limit of \(options.wallClockLimit.secondsText) and was killed; console log: \(consoleLog)")
            log("hint: an infrastructure problem, not a scenario result. Read the console log's end; raise --vm-timeout if the machine is just slow")
            return .infrastructure
        }
        if !progress.isComplete {
            log("error: the VM exited (status \(outcome.status)) after \(elapsed) before the runner finished; console log: \(consoleLog)")
            log("hint: an infrastructure problem, not a scenario result: the guest did not boot, panicked, or QEMU failed. Look for 'Kernel panic' or QEMU errors in the console log")
            return .infrastructure
        }
        log("VM finished in \(elapsed) (exit \(outcome.status)); results in \(folder.root)")
        return ExitStatus(rawValue: outcome.status) ?? .infrastructure
    }

    func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// This very binary, which the guest runs from the shared host file system.
    static func executablePath() throws -> String {
        let path = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        return path
    }
}
