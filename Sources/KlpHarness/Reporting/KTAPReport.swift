/// KTAP version 1 for CI (see Documentation/dev-tools/ktap.rst): a plan,
/// one result line per scenario with its diff as `# ` diagnostics before a
/// failure, totals, and a closing `N passed, N failed` line.
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

    /// The lines for one finished scenario.
    public func result(_ result: ScenarioResult, number: Int) {
        for note in result.diagnostics { diagnostic(note) }
        if !result.passed {
            diagnostic(UnifiedDiff(expected: result.expected, actual: result.actual)
                .render(expectedLabel: "\(result.scenario.name)/expected.txt", actualLabel: "\(result.scenario.name)/actual.txt")
                .joined(separator: "\n"))
        }
        diagnostic("\(result.scenario.name): \(result.wallTime.secondsText) wall, \(result.transitions.totalDuration.secondsText) in \(result.transitions.count) transition(s)")
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
        }
    }

    public struct Totals: Equatable, Sendable {
        public var pass = 0, fail = 0, skip = 0, error = 0

        public init(_ results: [ScenarioResult] = [], skipped: Int = 0) {
            skip = skipped
            for result in results {
                switch result.status {
                case .passed: pass += 1
                case .failed, .timedOut, .crashed: fail += 1
                case .interrupted, .error: error += 1
                }
            }
        }

        /// The same counts from results.json entries (the host's view of
        /// several boots). A kernel crash counts as a failure.
        public init(entries: [ResultsDocument.Entry]) {
            for entry in entries {
                switch entry.status {
                case "pass": pass += 1
                case "fail", "timeout", "crash": fail += 1
                case "skip": skip += 1
                default: error += 1
                }
            }
        }
    }

    public func totals(_ totals: Totals) {
        emit("# Totals: pass:\(totals.pass) fail:\(totals.fail) xfail:0 xpass:0 skip:\(totals.skip) error:\(totals.error)")
        emit("\(totals.pass) passed, \(totals.fail + totals.error) failed")
    }
}
