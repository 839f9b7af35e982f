/// `klp-harness run`: the whole suite on the running kernel, as root.
public struct SuiteRunner {
    public struct Options: Sendable {
        public var modules: String
        public var scenarios: String
        public var results: String
        public var names: [String] = []
        public var timeout: Duration = .seconds(SuiteRunner.defaultTimeoutSeconds)
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

    /// The per-scenario time limit of `run`, `vm` and LAVA, in seconds.
    public static let defaultTimeoutSeconds = 60

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
        let startUp = ContinuousClock.now
        let suite = try ScenarioSuite.select(directory: options.scenarios, names: options.names, shard: options.shard)
        let release = SystemState.kernelRelease
        let folder = ResultsFolder(root: options.results, release: release)
        let opened = try Self.open(folder, output: output)
        let report = opened.report
        var document = ResultsDocument(kernel: release, planned: suite.scenarios.count)
        if let skipReason = opened.skipReason {
            report.skipAll(reason: skipReason)
            document.skipReason = skipReason
            document.complete = true
            document.addUnreported(suite.scenarios.map(\.name), status: .skip, reason: skipReason)
            _ = try? opened.results?.write(document)
            return .skipped
        }
        guard let results = opened.results else { return .skipped }  // unreachable: opening threw without a skip
        try results.write(document)

        let loading = ContinuousClock.now
        let prepared = try Self.prepareKernel(
            modules: options.modules, checking: suite.scenarios, release: release, control: opened.control,
            resultsChannel: options.resultsChannel, timeout: options.timeout)
        defer { prepared.dynamicDebug.restore() }
        let engine = prepared.engine, channel = prepared.channel

        let clock = ContinuousClock()
        let started = clock.now
        report.header(plan: suite.scenarios.count)
        // Start-up is part of every VM run's wait: say where it went.
        report.diagnostic("start-up: \((clock.now - startUp).secondsText) (scenarios and results folder \((loading - startUp).secondsText), modules and dynamic debug \((clock.now - loading).secondsText))")
        report.diagnostic("kernel \(release); modules \(options.modules); scenarios \(options.scenarios); results \(folder.root)")
        var outcomes: [ScenarioResult] = []
        for (index, scenario) in suite.scenarios.enumerated() {
            if Interruption.isRequested { break }
            report.diagnostic("starting \(index + 1) \(scenario.name)")
            // On disk before the kernel is touched: if the machine dies in
            // this scenario, results.json says which one was running.
            document.running = scenario.name
            try results.write(document)
            let result = engine.run(scenario)
            outcomes.append(result)
            let files = try results.write(result)
            document.running = nil
            // One entry for results.json and the KTAP record alike.
            let entry = ResultsDocument.Entry(result, number: index + 1)
            document.scenarios.append(entry)
            try results.write(document)
            let record = ScenarioRecord(kernel: release, result: entry)
            // Sent before the KTAP line, so a host that sees `ok N` has this
            // scenario's files and record even if the kernel crashes in the
            // next one. results.json and junit.xml stay in the guest: the
            // host writes its own from the records.
            for file in files { try channel?.send(file, from: folder.root) }
            try channel?.send(record.json(), as: ResultsChannel.recordPath(entry.number))
            try channel?.drain()
            report.result(result, record: record)
        }
        document.complete = !Interruption.isRequested
        try results.write(document)
        // The host believes the suite finished only if the runner says so
        // over the channel too (SuiteBoots's Witnesses).
        try channel?.send(ResultsChannel.Completion(complete: document.complete, planned: suite.scenarios.count).json(),
                          as: ResultsChannel.completionPath)
        try channel?.drain()
        let transitionTime = outcomes.reduce(Duration.zero) { $0 + $1.transitions.totalDuration }
        report.diagnostic("suite: \(outcomes.count) scenario(s) in \((clock.now - started).secondsText) wall, \(transitionTime.secondsText) in transitions")
        if !engine.unremovable.isEmpty {
            report.diagnostic("still loaded after the run: " + engine.unremovable.map { "\($0.key) (\($0.value))" }.sorted().joined(separator: "; ") + "; reboot to get a clean kernel")
        }
        if Interruption.isRequested {
            report.diagnostic("interrupted by \(Interruption.signalName) after \(outcomes.count) of \(suite.scenarios.count) scenario(s); the kernel was cleaned up")
        }
        report.totals(StatusTally(outcomes.map { ScenarioStatus($0.status) }))
        if Interruption.isRequested { return Interruption.exitStatus }
        return outcomes.allSatisfy(\.isSuccess) ? .passed : .failed
    }

    /// What `open` hands `run` and `explore`. A named type, not a tuple,
    /// because two commands share it: `Explorer` reads the fields by name
    /// and a new field does not change every caller's destructuring.
    struct OpenedRun {
        /// Why this kernel or user cannot run; nil if it can.
        var skipReason: String?
        /// Dynamic debug's control file, when found.
        var control: String?
        /// The checked and cleared results folder; nil only with a skip.
        var results: OpenResultsFolder?
        /// KTAP to `output` and ktap.txt.
        var report: KTAPReport
    }

    /// What `prepareKernel` hands `run` and `explore`: named for the same
    /// reason as `OpenedRun`. The caller restores `dynamicDebug`.
    struct PreparedKernel {
        var engine: ScenarioEngine
        var dynamicDebug: DynamicDebug
        var channel: ResultsChannel.Sender?
    }

    /// What `run` and `explore` open before they touch the kernel: why
    /// this kernel or user cannot run (nil if it can), dynamic debug's
    /// control file, the results folder, and the KTAP report that writes to
    /// `output` and ktap.txt. The results folder is opened, checked and
    /// cleared first: one that is a link or another user's is bad input on
    /// every path. Only a skip may go on without a writable one (typically:
    /// not root), so it still reaches CI on stdout.
    static func open(_ folder: ResultsFolder, output: @escaping (String) -> Void) throws -> OpenedRun {
        var control: String?
        var skipReason = reasonToSkip(isRoot: SystemState.isRoot, sysfs: Sysfs())
        if skipReason == nil {
            do {
                control = try DynamicDebug.locateControl()
            } catch let error as HarnessError where error.status == .skipped {
                skipReason = error.description
            }
        }
        let results: OpenResultsFolder?
        do throws(ResultsFolderError) {
            results = try folder.openOrExplain()
        } catch where skipReason != nil && !error.refused {
            results = nil
        } catch {
            throw error.error
        }
        let ktapFile = skipReason == nil ? try results?.ktapAppender() : try? results?.ktapAppender()
        let report = KTAPReport { line in
            output(line)
            ktapFile?.append(line)
        }
        return OpenedRun(skipReason: skipReason, control: control, results: results, report: report)
    }

    /// What `run` and `explore` set up once the results folder is open:
    /// libkmod and the module catalog, checked against `scenarios` before
    /// anything is loaded; signal handling; dynamic debug for livepatch
    /// (the caller restores it); the results channel; the engine.
    static func prepareKernel(modules: String, checking scenarios: [Scenario], release: String, control: String?,
                              resultsChannel: String?, timeout: Duration) throws -> PreparedKernel {
        let kmod = try KmodContext()
        let catalog = try ModuleCatalog.load(directory: modules, kmod: kmod)
        try catalog.validate(for: scenarios, release: release)
        Interruption.install()
        let dynamicDebug = try DynamicDebug(controlPath: control ?? DynamicDebug.locateControl())
        do {
            let channel = try resultsChannel.map { path throws(KernelFileError) in try ResultsChannel.Sender(path: path) }
            let engine = ScenarioEngine(kmod: kmod, kmsg: try KmsgReader(), sysfs: Sysfs(), catalog: catalog, timeout: timeout)
            return PreparedKernel(engine: engine, dynamicDebug: dynamicDebug, channel: channel)
        } catch {
            dynamicDebug.restore()
            throw error
        }
    }

    /// Why this kernel or user cannot run the suite, or nil if it can.
    static func reasonToSkip(isRoot: Bool, sysfs: Sysfs, printkDevkmsg: String = "/proc/sys/kernel/printk_devkmsg") -> String? {
        if !isRoot {
            return "not root: loading modules and writing livepatch sysfs files needs root (run with sudo)"
        }
        if !sysfs.supportsLivepatch {
            return "\(sysfs.livepatchRoot) is missing: this kernel has no livepatch support (CONFIG_LIVEPATCH=y)"
        }
        // With printk.devkmsg=off the kernel silently drops every line user
        // space writes to /dev/kmsg (Documentation/admin-guide/sysctl/kernel.rst,
        // printk_devkmsg), so the runner's markers would never appear and
        // every scenario would wait out its whole time limit.
        if (try? KernelFile.readValue(printkDevkmsg)) == "off" {
            return "\(printkDevkmsg) reads 'off' (printk.devkmsg=off): the kernel drops the runner's /dev/kmsg markers; boot without printk.devkmsg=off, or echo ratelimit > \(printkDevkmsg) if the boot command line did not set it"
        }
        return nil
    }
}
