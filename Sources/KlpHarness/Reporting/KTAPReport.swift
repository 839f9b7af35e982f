/// KTAP version 1 for CI (see Documentation/dev-tools/ktap.rst): a plan,
/// one result line per scenario with its diff as `# ` diagnostics before a
/// failure and its ScenarioRecord as the last diagnostic before it, totals,
/// and a closing `N passed, N failed` line.
public struct KTAPReport {
    /// Receives each line as soon as it is known (stdout and ktap.txt).
    public var emit: (String) -> Void

    public init(emit: @escaping (String) -> Void) { self.emit = emit }

    public func header(plan count: Int) {
        emit("KTAP version 1")
        emit("1..\(count)")
    }

    public func skipAll(reason: String) {
        emit("KTAP version 1")
        emit("1..0 # SKIP \(reason)")
    }

    public func diagnostic(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            emit(line.isEmpty ? "#" : "# \(line)")
        }
    }

    /// The lines for one finished scenario: the diagnostics for a person,
    /// then `record` (the data every consumer reads), then the result line.
    public func result(_ result: ScenarioResult, record: ScenarioRecord) {
        let number = record.result.number
        for note in result.diagnostics { diagnostic(note) }
        if result.showsDiff {
            diagnostic(UnifiedDiff(expected: result.expected, actual: result.actual)
                .render(expectedLabel: result.scenario.path, actualLabel: "\(result.scenario.name)/actual.txt",
                        expectedLineNumbers: result.expectedLineNumbers)
                .joined(separator: "\n"))
        }
        diagnostic("\(result.scenario.name): \(result.wallTime.secondsText) wall, \(result.transitions.totalDuration.secondsText) in \(result.transitions.count) transition(s)")
        emit(record.ktapLine)
        emit(Self.resultLine(result, number: number))
    }

    static func resultLine(_ result: ScenarioResult, number: Int) -> String {
        let name = result.scenario.name
        switch result.status {
        case .passed: return "ok \(number) \(name)"
        case .failed: return "not ok \(number) \(name)"
        case .timedOut(let limit, _): return "not ok \(number) \(name) # TIMEOUT \(Int(limit.seconds.rounded())) seconds"
        case .interrupted(let signal): return "not ok \(number) \(name) # ERROR interrupted by \(signal)"
        case .error(let message): return "not ok \(number) \(name) # ERROR \(message)"
        case .crashed: return "not ok \(number) \(name)"
        case .skipped(let reason): return "ok \(number) \(name) # SKIP \(reason)"
        }
    }

    /// KTAP's closing counts: a timeout and a crash count as `fail`, an
    /// infrastructure error as `error`; skipped scenarios fail nothing.
    public func totals(_ tally: StatusTally) {
        emit("# Totals: pass:\(tally.passed) fail:\(tally.failures) xfail:0 xpass:0 skip:\(tally.skipped) error:\(tally.errors)")
        emit(tally.closingCount)
    }
}
