import Foundation

/// `results.json`: one kernel's run for dashboards and the host's summary.
/// Rewritten whole after every scenario through a rename, so a run killed
/// halfway leaves a valid document of what finished (`complete` is false).
public struct ResultsDocument: Codable, Equatable, Sendable {
    public var kernel: String
    public var complete: Bool
    public var planned: Int
    public var scenarios: [Entry]
    /// Why the whole suite was skipped on this kernel (not root, no livepatch).
    public var skipReason: String?
    /// Set by the host when the VM failed: the scenarios it never reported
    /// are listed with status `infrastructure`.
    public var infrastructureError: String?
    /// The scenario in progress, written before it touches the kernel and
    /// cleared when its result is in; still set on disk if the machine died
    /// during it. Absent in documents of older runs.
    public var running: String?

    public struct Entry: Codable, Equatable, Sendable {
        public var number: Int
        public var name: String
        public var status: ScenarioStatus
        public var durationSeconds: Double
        public var transitionSeconds: Double
        public var transitions: Int
        public var diagnostics: [String]
        /// The diff when it failed (after the kernel's report for a crash),
        /// else the last lines of the actual transcript.
        public var logExcerpt: [String]
        /// Paths relative to the kernel's results folder.
        public var artifacts: [String: String]
        /// An explored sequence's seed and number (`vm --explore`, where
        /// the entry is named `seed<S>-sequence<N>`); absent for a scenario.
        public var seed: UInt64?
        public var sequence: Int?
    }

    public init(kernel: String, planned: Int) {
        self.kernel = kernel
        self.complete = false
        self.planned = planned
        self.scenarios = []
    }

    /// Lists `names` as not run, for a skipped suite or a failed VM.
    public mutating func addUnreported(_ names: [String], status: ScenarioStatus, reason: String) {
        let reported = Set(scenarios.map(\.name))
        for name in names where !reported.contains(name) {
            scenarios.append(Entry(number: scenarios.count + 1, name: name, status: status, durationSeconds: 0,
                                   transitionSeconds: 0, transitions: 0, diagnostics: [reason], logExcerpt: [], artifacts: [:]))
        }
    }

    public mutating func append(_ result: ScenarioResult, number: Int) {
        scenarios.append(Entry(result, number: number))
    }

    /// The document as results.json holds it.
    public func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileBytes.replace(path, with: try encoder.encode(self))
    }

    /// I/O style: Foundation, since JSONDecoder takes `Data`; only the host
    /// reads results.json back (`show`, `report`, the page `vm` writes).
    public static func read(from path: String) throws -> ResultsDocument {
        try JSONDecoder().decode(ResultsDocument.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

extension ResultsDocument.Entry {
    /// The entry for an engine's result: built once by the runner, which
    /// hands the same value to results.json and to the KTAP record
    /// (ScenarioRecord), so the two cannot disagree.
    public init(_ result: ScenarioResult, number: Int) {
        let name = result.scenario.name
        var artifacts = ["expected": "\(name)/expected.txt", "actual": "\(name)/actual.txt", "kmsg": "\(name)/kmsg.txt"]
        let diff = UnifiedDiff(expected: result.expected, actual: result.actual).render()
        if !result.isSuccess { artifacts["diff"] = "\(name)/diff.txt" }
        self.init(
            number: number, name: name, status: ScenarioStatus(result.status),
            durationSeconds: result.wallTime.seconds,
            transitionSeconds: result.transitions.totalDuration.seconds,
            transitions: result.transitions.count,
            diagnostics: result.diagnostics,
            logExcerpt: result.passed ? Array(result.actual.suffix(5)) : result.crashExcerpt + (result.showsDiff ? diff : []),
            artifacts: artifacts)
    }
}
