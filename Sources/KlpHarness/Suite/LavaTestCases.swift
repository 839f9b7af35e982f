import Foundation

/// One LAVA test case: a scenario's result as `lava-test-case` records it.
public struct LavaTestCase: Equatable, Sendable {
    /// LAVA's result words (lava-test-case --result).
    public enum Result: String, Sendable {
        case pass, fail, skip, unknown
    }

    public var name: String
    public var result: Result
    /// The scenario's wall time in seconds, when the runner reported one.
    public var seconds: Double?

    public init(name: String, result: Result, seconds: Double? = nil) {
        self.name = name
        self.result = result
        self.seconds = seconds
    }

    /// The arguments of `lava-test-case` for this case.
    public var arguments: [String] {
        var words = [name, "--result", result.rawValue]
        if let seconds {
            words += ["--measurement", String(format: "%.3f", seconds), "--units", "seconds"]
        }
        return words
    }
}

/// Turns the runner's KTAP, line by line, into what a LAVA test shell
/// needs: the lines themselves for the log, each scenario's lines between
/// LAVA's start and end markers for its test case, and one test case per
/// scenario as soon as its result line arrives. The test case's result
/// and measurement come from the scenario's record (`# klp-result {json}`,
/// ScenarioRecord, printed just before the result line), not from the
/// runner's prose.
///
/// The markers are the signals `lava-test-case NAME --shell CMD` prints
/// around CMD's output (lava-dispatcher's lava_test_shell/lava-test-case);
/// the dispatcher records them as `start_test_case`/`end_test_case`, and the
/// server shows those log lines (here the scenario's diagnostics, its
/// record and its diff) with the case. `--shell` itself cannot be used: it
/// records only pass or fail from an exit status, with no measurement and
/// no skip.
public struct LavaCaseReporter: Sendable {
    public enum Step: Equatable, Sendable {
        /// A line for the job log (stdout).
        case print(String)
        /// A test case to record with lava-test-case.
        case record(LavaTestCase)
        /// Print this failed scenario's transcripts (`fileLine`), so the
        /// job log carries what the results folder in the guest holds.
        case attach(String)
    }

    /// The files `attach` prints, from the scenario's results folder.
    public static let attachedFiles = ["expected.txt", "actual.txt", "kmsg.txt"]

    /// One line of an attached file: `# file NAME/FILE: TEXT`.
    public static func fileLine(scenario: String, file: String, text: String) -> String {
        "\(filePrefix)\(scenario)/\(file): \(text)"
    }

    public static let filePrefix = "# file "


    /// The scenarios this run plans, in order: a suite the runner skips
    /// as a whole (not root, no livepatch) still gets one case each.
    public var planned: [String]
    public private(set) var reported: [String] = []
    private var open: String?
    private var records: [String: ScenarioRecord] = [:]
    private var skipReason: String?

    public init(planned: [String]) { self.planned = planned }

    public static func startMarker(_ name: String) -> String { "<LAVA_SIGNAL_STARTTC \(name)>" }
    public static func endMarker(_ name: String) -> String { "<LAVA_SIGNAL_ENDTC \(name)>" }

    public mutating func consume(_ line: String) -> [Step] {
        if line.hasPrefix("# starting "), let name = Self.startedName(line) {
            var steps = closeOpen()
            open = name
            steps += [.print(Self.startMarker(name)), .print(line)]
            return steps
        }
        let result: KTAPLine.Result
        switch KTAPLine.parse(line) {
        case .plan(count: 0, let reason?):
            skipReason = reason
            return [.print(line)]
        case .record(let record):
            records[record.result.name] = record
            return [.print(line)]
        case .result(let parsed):
            result = parsed
        default:
            return [.print(line)]
        }
        let record = records.removeValue(forKey: result.name)
        var steps: [Step] = [.print(line)]
        // Without a record (a runner that predates them), KTAP's own words.
        let word = record.map { Self.result(of: $0.result.status) }
            ?? (!result.ok ? .fail : result.isSkip ? .skip : .pass)
        if word == .fail { steps.append(.attach(result.name)) }
        if open == result.name {
            steps.append(.print(Self.endMarker(result.name)))
            open = nil
        }
        reported.append(result.name)
        steps.append(.record(LavaTestCase(name: result.name, result: word, seconds: record?.result.durationSeconds)))
        return steps
    }

    /// LAVA's word for a scenario's status: a crash, a timeout and an
    /// error are failed test cases too (LAVA has no other word for them).
    static func result(of status: ScenarioStatus) -> LavaTestCase.Result {
        switch status {
        case .pass: .pass
        case .skip: .skip
        default: .fail
        }
    }

    /// After the runner returned: the planned scenarios it did not report,
    /// as skipped when it skipped the suite. Any other gap is not a result:
    /// the caller raises instead (`unreported`).
    public mutating func finish() -> [Step] {
        var steps = closeOpen()
        if skipReason != nil {
            for name in planned where !reported.contains(name) {
                reported.append(name)
                steps.append(.record(LavaTestCase(name: name, result: .skip)))
            }
        }
        return steps
    }

    /// Planned scenarios without a result.
    public var unreported: [String] { planned.filter { !reported.contains($0) } }

    private mutating func closeOpen() -> [Step] {
        guard let name = open else { return [] }
        open = nil
        return [.print(Self.endMarker(name))]
    }

    /// `# starting 3 module-going-notifier` → module-going-notifier.
    static func startedName(_ line: String) -> String? {
        let words = line.dropFirst("# starting ".count).split(separator: " ")
        guard words.count == 2, Int(words[0]) != nil else { return nil }
        return String(words[1])
    }
}
