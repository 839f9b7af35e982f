import Foundation

/// A results folder read back, as `show` and the HTML report see it. It
/// reads only files, so it works on a folder copied out of CI.
public struct ResultsArchive: Sendable {
    public var root: String
    public var kernels: [KernelRun]

    public struct KernelRun: Sendable {
        public var release: String
        public var directory: String
        public var document: ResultsDocument
        /// Each scenario's files as the host holds them in memory (what
        /// the results channel delivered, or a crash the host recorded),
        /// so `klp-harness vm` builds its page without reading the folder
        /// back. Nil for a folder read from disk (`show`, `report`).
        public var delivered: [String: ScenarioArtifacts]?

        /// The files of one scenario, or nil if the run did not get to it.
        public func artifacts(of scenario: String) -> ScenarioArtifacts? {
            if let delivered { return delivered[scenario] }
            let directory = "\(self.directory)/\(scenario)"
            guard let expected = try? KernelFile.read("\(directory)/expected.txt") else { return nil }
            return ScenarioArtifacts(expectedText: expected, actualText: try? KernelFile.read("\(directory)/actual.txt"),
                                     kmsgText: try? KernelFile.read("\(directory)/kmsg.txt"))
        }
    }

    /// `root` may be the results root (one folder per kernel) or one
    /// kernel's folder.
    public static func load(_ root: String) throws -> ResultsArchive {
        guard KernelFile.exists(root) else {
            throw HarnessError.badInput("results folder \(root) does not exist", remedy: "run the suite first, or pass the folder copied out of CI")
        }
        if KernelFile.exists("\(root)/results.json") {
            return ResultsArchive(root: root, kernels: [try run(in: root)])
        }
        let kernels = try KernelFile.listDirectory(root)
            .filter { KernelFile.exists("\(root)/\($0)/results.json") }
            .map { try run(in: "\(root)/\($0)") }
        guard !kernels.isEmpty else {
            throw HarnessError.badInput("\(root) holds no results (no <release>/results.json)",
                                        remedy: "pass the results folder a run wrote, e.g. results/")
        }
        return ResultsArchive(root: root, kernels: kernels)
    }

    static func run(in directory: String) throws -> KernelRun {
        let document: ResultsDocument
        do {
            document = try ResultsDocument.read(from: "\(directory)/results.json")
        } catch {
            throw HarnessError.badInput("\(directory)/results.json cannot be read: \(error)")
        }
        return KernelRun(release: document.kernel, directory: directory, document: document)
    }

    /// Scenario names over all kernels, in run order.
    public var scenarioNames: [String] {
        var names: [String] = []
        for kernel in kernels {
            for entry in kernel.document.scenarios where !names.contains(entry.name) { names.append(entry.name) }
        }
        return names
    }
}

public struct ScenarioArtifacts: Sendable {
    public var expected: [String]
    public var actual: [String]
    public var records: [KmsgRecord]

    public init(expected: [String], actual: [String], records: [KmsgRecord]) {
        self.expected = expected
        self.actual = actual
        self.records = records
    }

    /// From the texts of expected.txt, actual.txt and kmsg.txt, as a
    /// scenario's folder holds them on disk or the channel delivered them.
    public init(expectedText: String, actualText: String?, kmsgText: String?) {
        let lines: (String) -> [String] = { text in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLastIfEmpty() }
        let kmsg = kmsgText.map(lines) ?? []
        self.init(expected: lines(expectedText), actual: actualText.map(lines) ?? [],
                  records: kmsg.enumerated().compactMap { KmsgRecord(dmesgLine: $0.element[...], sequence: UInt64($0.offset)) })
    }

    public var diff: UnifiedDiff { UnifiedDiff(expected: expected, actual: actual) }

    public var timeline: Timeline { Timeline(records: records) }
}

/// A scenario's kernel log against time: each line at its offset from the
/// scenario's start, classified, and the transitions as spans.
public struct Timeline: Sendable {
    public enum Kind: String, Sendable {
        /// A `% ` line the harness wrote before acting.
        case action
        /// A callback of a test livepatch (`pre_patch_callback: …`).
        case callback
        /// A livepatch core line (`livepatch: …`).
        case livepatch
        /// Anything else: module init/exit, taint notices, the harness's markers.
        case other
    }

    public struct Event: Sendable {
        public var offset: Duration
        public var kind: Kind
        public var text: String
    }

    public struct Span: Sendable {
        public var patch: String
        public var start: Duration
        public var duration: Duration
    }

    public var events: [Event]
    public var transitions: [Span]
    /// Transitions that began and never completed, with no duration.
    public var unfinishedTransitions: [(patch: String, start: Duration)]
    /// From the first record to the last.
    public var length: Duration

    public init(records: [KmsgRecord]) {
        let start = records.first?.timestamp ?? 0
        let offset: (UInt64) -> Duration = { .microseconds(Int64($0) - Int64(start)) }
        events = records.map { record in
            Event(offset: offset(record.timestamp), kind: Self.kind(of: record.message), text: record.message)
        }
        let (finished, unfinished) = TransitionSpan.transitions(in: records)
        transitions = finished.map { Span(patch: $0.patch, start: offset($0.start), duration: $0.duration) }
        unfinishedTransitions = unfinished.map { ($0.patch, offset($0.start)) }
        length = offset(records.last?.timestamp ?? start)
    }

    static func kind(of message: String) -> Kind {
        if message.hasPrefix("% ") { return .action }
        if message.hasPrefix("livepatch: ") { return .livepatch }
        if message.contains("_callback: ") { return .callback }
        return .other
    }
}

extension Array where Element == String {
    /// A file ending in a newline splits into a last, empty element.
    func dropLastIfEmpty() -> [String] { last == "" ? Array(dropLast()) : self }
}
