/// `klp-harness run`: the whole suite on the running kernel, as root.
public struct SuiteRunner {
    public struct Options: Sendable {
        public var modules: String
        public var scenarios: String
        public var results: String
        public var names: [String] = []
        public var timeout: Duration = .seconds(60)
        /// (I, N): run every N-th scenario starting at the I-th.
        public var shard: (index: Int, count: Int)?
        /// A device (the hermetic guest's /dev/ttyS2) to send each
        /// scenario's results files to as soon as they are written.
        public var resultsChannel: String?

        public init(modules: String, scenarios: String, results: String) {
            self.modules = modules
            self.scenarios = scenarios
            self.results = results
        }
    }

    public var options: Options
    /// Where KTAP lines go besides ktap.txt (stdout).
    public var output: (String) -> Void

    public init(options: Options, output: @escaping (String) -> Void) {
        self.options = options
        self.output = output
    }

    /// Runs the suite and returns the exit status. Bad input throws before
    /// anything is loaded; a kernel or user that cannot run the suite gives
    /// a KTAP skip and `.skipped`.
    public func run() throws -> ExitStatus {
        let suite = try ScenarioSuite.select(directory: options.scenarios, names: options.names, shard: options.shard)
        let release = SystemState.kernelRelease
        let folder = ResultsFolder(root: options.results, release: release)
        var control: String?
        var skipReason = Self.reasonToSkip(isRoot: SystemState.isRoot, sysfs: Sysfs())
        if skipReason == nil {
            do {
                control = try DynamicDebug.locateControl()
            } catch let error as HarnessError where error.status == .skipped {
                skipReason = error.description
            }
        }
        var document = ResultsDocument(kernel: release, planned: suite.scenarios.count)

        // A skip must reach CI even where the results folder is not writable
        // (typically: not root), so its files are best effort then.
        if skipReason == nil { try folder.prepare() } else { try? folder.prepare() }
        let ktapFile = skipReason == nil ? try folder.appender(folder.ktapPath) : try? folder.appender(folder.ktapPath)
        let report = KTAPReport { line in
            output(line)
            ktapFile?.append(line)
        }
        if let skipReason {
            report.skipAll(reason: skipReason)
            document.skipReason = skipReason
            document.complete = true
            document.addUnreported(suite.scenarios.map(\.name), status: "skip", reason: skipReason)
            try? folder.write(document)
            return .skipped
        }

        let kmod = try KmodContext()
        let catalog = try ModuleCatalog.load(directory: options.modules, kmod: kmod)
        try catalog.validate(for: suite.scenarios, release: release)

        Interruption.install()
        let dynamicDebug = try DynamicDebug(controlPath: control ?? DynamicDebug.locateControl())
        defer { dynamicDebug.restore() }
        let channel = try options.resultsChannel.map { path throws(KernelFileError) in try ResultsChannel.Sender(path: path) }
        let engine = ScenarioEngine(
            kmod: kmod, kmsg: try KmsgReader(), sysfs: Sysfs(), catalog: catalog, timeout: options.timeout)

        let clock = ContinuousClock()
        let started = clock.now
        report.header(plan: suite.scenarios.count)
        report.diagnostic("kernel \(release); modules \(options.modules); scenarios \(options.scenarios)")
        var results: [ScenarioResult] = []
        try folder.write(document)
        for (index, scenario) in suite.scenarios.enumerated() {
            if Interruption.isRequested { break }
            report.diagnostic("starting \(index + 1) \(scenario.name)")
            let result = engine.run(scenario)
            results.append(result)
            try folder.write(result)
            document.append(result, number: index + 1)
            try folder.write(document)
            if let channel {
                let directory = scenario.name
                for file in try KernelFile.listDirectory(folder.scenarioDirectory(directory)) {
                    try channel.send("\(directory)/\(file)", from: folder.root)
                }
                try channel.send("results.json", from: folder.root)
            }
            report.result(result, number: index + 1)
        }
        document.complete = !Interruption.isRequested
        try folder.write(document)
        let transitionTime = results.reduce(Duration.zero) { $0 + $1.transitions.totalDuration }
        report.diagnostic("suite: \(results.count) scenario(s) in \((clock.now - started).secondsText) wall, \(transitionTime.secondsText) in transitions")
        if Interruption.isRequested {
            report.diagnostic("interrupted by \(Interruption.signalName) after \(results.count) of \(suite.scenarios.count) scenario(s); the kernel was cleaned up")
        }
        report.totals(KTAPReport.Totals(results))
        if Interruption.isRequested { return Interruption.exitStatus }
        return results.allSatisfy(\.passed) ? .passed : .failed
    }

    /// Why this kernel or user cannot run the suite, or nil if it can.
    static func reasonToSkip(isRoot: Bool, sysfs: Sysfs) -> String? {
        if !isRoot {
            return "not root: loading modules and writing livepatch sysfs files needs root (run with sudo)"
        }
        if !sysfs.supportsLivepatch {
            return "\(sysfs.livepatchRoot) is missing: this kernel has no livepatch support (CONFIG_LIVEPATCH=y)"
        }
        return nil
    }
}
