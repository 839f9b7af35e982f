/// One LAVA job of the suite read back from its dispatcher log: the
/// scenarios' test cases (LAVA's verdict and measurement), joined with the
/// record the runner printed before each KTAP result line on the device's
/// console (`# klp-result {json}`, ScenarioRecord: the kernel release,
/// status, times, diagnostics and diff), and how the job ended. Nothing of
/// the result is read back from the runner's prose: when its wording
/// changed (the diff labels), the prose-scraping merge lost the diff.
public struct LavaRun: Sendable {
    public struct Scenario: Sendable {
        /// The number within this job's KTAP plan.
        public var number: Int
        public var name: String
        /// LAVA's result word (pass, fail, skip), or nil when the job
        /// ended before a test case was recorded.
        public var lavaResult: String?
        /// LAVA's measurement: the wall time the guest recorded.
        public var seconds: Double?
        /// The KTAP result line's directive (`TIMEOUT 60 seconds`, `SKIP …`).
        public var directive: String?
        /// The runner's record of the scenario; nil when the job ended
        /// before it (or the runner predates records).
        public var record: ScenarioRecord?
        /// False when the job ended after the scenario started and before
        /// its result; `console` then holds the lines after its start.
        public var finished = true
        public var console: [String] = []
        /// A failed scenario's files as the guest printed them
        /// (`LavaCaseReporter.fileLine`): expected.txt, actual.txt, kmsg.txt.
        public var files: [String: [String]] = [:]
    }

    /// The kernel release, from the first record.
    public var release: String?
    public var shard: (index: Int, count: Int)?
    public var plan: Int?
    public var scenarios: [Scenario] = []
    /// Test cases that are not scenarios (tuxrun's case for the whole command).
    public var otherCases: [LavaLog.TestResult] = []
    public var job: (complete: Bool, error: String?)?
    public var unreadableLines = 0

    /// The line `lava-test-cases` prints before the suite when it runs a shard.
    public static let shardPrefix = "# lava-test-cases: shard "

    public init(log: LavaLog) {
        job = log.job
        unreadableLines = log.unreadableLines
        var current: Scenario?
        var record: ScenarioRecord?
        var finished: [Scenario] = []
        var afterStart: [String] = []
        var attachments: [String: [String: [String]]] = [:]
        for line in log.targetLines {
            if line.hasPrefix(LavaCaseReporter.filePrefix) {
                let rest = line.dropFirst(LavaCaseReporter.filePrefix.count)
                if let slash = rest.firstIndex(of: "/"), let colon = rest[slash...].range(of: ": ") ?? rest[slash...].range(of: ":") {
                    let name = String(rest[..<slash]), file = String(rest[rest.index(after: slash)..<colon.lowerBound])
                    attachments[name, default: [:]][file, default: []].append(String(rest[colon.upperBound...]))
                }
                continue
            }
            let parsed = KTAPLine.parse(line)
            if case .record(let found) = parsed {
                record = found
                release = release ?? found.kernel
                continue
            }
            if line.hasPrefix(Self.shardPrefix) {
                let words = line.dropFirst(Self.shardPrefix.count).split(separator: "/")
                if words.count == 2, let index = Int(words[0]), let count = Int(words[1].prefix { $0.isNumber }) {
                    shard = (index, count)
                }
            } else if case .plan(let count, _) = parsed, plan == nil {
                plan = count
            }
            if line.hasPrefix("# starting "), let name = LavaCaseReporter.startedName(line) {
                let number = Int(line.dropFirst("# starting ".count).prefix { $0.isNumber }) ?? 0
                current = Scenario(number: number, name: name)
                record = nil
                afterStart = []
                continue
            }
            afterStart.append(line)
            if case .result(let result) = parsed {
                var scenario = current.flatMap { $0.name == result.name ? $0 : nil }
                    ?? Scenario(number: result.number, name: result.name)
                scenario.number = result.number
                scenario.directive = result.directive
                scenario.record = record.flatMap { $0.result.name == result.name ? $0 : nil }
                finished.append(scenario)
                current = nil
                record = nil
            }
        }
        if var unfinished = current {
            unfinished.finished = false
            unfinished.console = afterStart
            finished.append(unfinished)
        }
        let cases = log.testCases
        let names = Set(finished.map(\.name))
        for var scenario in finished {
            scenario.files = attachments[scenario.name] ?? [:]
            if let lava = cases.last(where: { $0.name == scenario.name }) {
                scenario.lavaResult = lava.result
                scenario.seconds = lava.measurement
            }
            scenarios.append(scenario)
        }
        otherCases = cases.filter { !names.contains($0.name) }
    }

    /// The scenario's number in the whole suite: a shard I/N runs the
    /// suite's scenarios I, I+N, I+2N… (ScenarioSuite.shard).
    public func suiteNumber(of scenario: Scenario) -> Int {
        guard let shard else { return scenario.number }
        return (scenario.number - 1) * shard.count + shard.index
    }

    /// results.json's view of one scenario: the runner's record as it is,
    /// renumbered for the whole suite. Without a record, what LAVA and the
    /// console show: a crash the job ended in, or an error that says
    /// what is missing.
    public func entry(for scenario: Scenario) -> ResultsDocument.Entry {
        var artifacts: [String: String] = [:]
        // Only the files the guest printed into the log are in the merged
        // folder; the record names the guest's, which stayed there.
        if scenario.files["expected.txt"] != nil {
            for (key, file) in [("expected", "expected.txt"), ("actual", "actual.txt"), ("kmsg", "kmsg.txt"), ("diff", "diff.txt")] {
                artifacts[key] = "\(scenario.name)/\(file)"
            }
        }
        if var entry = scenario.record?.result {
            entry.number = suiteNumber(of: scenario)
            entry.artifacts = artifacts
            return entry
        }
        var diagnostics: [String] = []
        var excerpt: [String] = []
        let status: ScenarioStatus
        if !scenario.finished {
            // Started, never finished: the job ended during it.
            if let crash = KernelCrash.first(in: scenario.console) {
                status = .crash
                diagnostics = ["kernel crashed: \(crash.headline)", "the LAVA job ended during this scenario"]
                excerpt = crash.excerpt
            } else {
                status = .error
                diagnostics = ["the LAVA job ended during this scenario: \(job?.error ?? "no test case was recorded")"]
            }
        } else {
            status = scenario.lavaResult == "skip" ? .skip : .error
            diagnostics = ["no '\(ScenarioRecord.ktapPrefix.trimmingSpaces)' record before this scenario's result line; LAVA recorded '\(scenario.lavaResult ?? "no result")'"]
        }
        return ResultsDocument.Entry(
            number: suiteNumber(of: scenario), name: scenario.name, status: status,
            durationSeconds: scenario.seconds ?? 0, transitionSeconds: 0, transitions: 0,
            diagnostics: diagnostics, logExcerpt: excerpt, artifacts: artifacts)
    }
}

/// Several LAVA jobs of the suite (a kernel's shards, or several kernels)
/// turned back into one results.json per kernel, as `klp-harness vm` writes.
public enum LavaMerge {
    public static func documents(_ runs: [LavaRun]) -> [ResultsDocument] {
        var releases: [String] = []
        for run in runs {
            let release = run.release ?? "unknown"
            if !releases.contains(release) { releases.append(release) }
        }
        return releases.map { release in
            let mine = runs.filter { ($0.release ?? "unknown") == release }
            var document = ResultsDocument(kernel: release, planned: mine.reduce(0) { $0 + ($1.plan ?? $1.scenarios.count) })
            document.scenarios = mine.flatMap { run in run.scenarios.map { run.entry(for: $0) } }
                .sorted { $0.number < $1.number }
            document.complete = mine.allSatisfy { $0.job?.complete == true }
            let errors = mine.compactMap { $0.job?.complete == false ? $0.job?.error : nil }
                + mine.filter { $0.job == nil }.map { _ in "a dispatcher log without the job's final result (cut off?)" }
            if !errors.isEmpty { document.infrastructureError = "LAVA job incomplete: " + errors.joined(separator: "; ") }
            return document
        }
    }

    /// Writes what `klp-harness vm` writes for these jobs: results.json per
    /// kernel under `root` (with the files of each failed scenario the
    /// guest printed: expected.txt, actual.txt, kmsg.txt and diff.txt),
    /// junit.xml and index.html. The report shows these kernels only,
    /// whatever else `root` holds.
    public static func write(_ runs: [LavaRun], to root: String) throws -> [ResultsDocument] {
        let documents = documents(runs)
        var kernels: [ResultsArchive.KernelRun] = []
        for document in documents {
            let directory = "\(root)/\(document.kernel)"
            try FileBytes.makeDirectories(directory)
            for run in runs where (run.release ?? "unknown") == document.kernel {
                for scenario in run.scenarios where scenario.files["expected.txt"] != nil {
                    let folder = "\(directory)/\(scenario.name)"
                    try FileBytes.makeDirectories(folder)
                    for file in LavaCaseReporter.attachedFiles {
                        try FileBytes.writeLines(scenario.files[file] ?? [], to: "\(folder)/\(file)")
                    }
                    try FileBytes.writeLines(run.entry(for: scenario).logExcerpt, to: "\(folder)/diff.txt")
                }
            }
            try document.write(to: "\(directory)/results.json")
            kernels.append(try ResultsArchive.run(in: directory))
        }
        try JUnitReport.write(documents, to: "\(root)/junit.xml")
        try HTMLReport.write(ResultsArchive(root: root, kernels: kernels), to: "\(root)/index.html")
        return documents
    }
}
