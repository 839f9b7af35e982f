/// What became of one scenario, in the words results.json stores (so the
/// raw values are the file format: `"status": "pass"`).
public enum ScenarioStatus: String, Codable, Sendable, CaseIterable {
    case pass
    /// The kernel log differs from the transcript.
    case fail
    /// A wait ran out of the scenario's time.
    case timeout
    /// The kernel oopsed, hit a BUG or WARN, or gained a taint flag.
    case crash
    /// The harness could not drive the kernel, could not leave it clean, or
    /// was interrupted.
    case error
    case skip
    /// The VM failed before the scenario ran; says nothing about the kernel.
    case infrastructure

    /// The status results.json records for an engine's result.
    public init(_ outcome: ScenarioResult.Status) {
        switch outcome {
        case .passed: self = .pass
        case .failed: self = .fail
        case .timedOut: self = .timeout
        case .interrupted, .error: self = .error
        case .crashed: self = .crash
        case .skipped: self = .skip
        }
    }

    /// The kernel did something other than the transcript says: KTAP's
    /// `fail` and JUnit's `<failure>`. A crash counts here everywhere.
    public var isFailure: Bool { self == .fail || self == .timeout || self == .crash }

    /// KTAP's `error` and JUnit's `<error>`: the run, not the kernel, went wrong.
    public var isError: Bool { self == .error || self == .infrastructure }

    /// Anything a person must look at: everything but pass and skip.
    public var needsAttention: Bool { self != .pass && self != .skip }
}

/// How many scenarios ended in each status: the one count behind KTAP's
/// totals, JUnit's attributes, the report's header and the matrix's last line.
public struct StatusTally: Equatable, Sendable {
    private var counts: [ScenarioStatus: Int] = [:]

    public init() {}

    public init(_ statuses: some Sequence<ScenarioStatus>) {
        for status in statuses { counts[status, default: 0] += 1 }
    }

    public subscript(status: ScenarioStatus) -> Int { counts[status] ?? 0 }

    public var total: Int { counts.values.reduce(0, +) }
    public var passed: Int { self[.pass] }
    public var skipped: Int { self[.skip] }
    /// fail, timeout and crash.
    public var failures: Int { sum(where: \.isFailure) }
    /// error and infrastructure.
    public var errors: Int { sum(where: \.isError) }

    /// `9 passed, 1 failed, 2 skipped`: the runner's closing line, the
    /// matrix's and the host's per-kernel summary, counted one way (a skip
    /// is neither a pass nor a failure; errors count as failures, as the
    /// KTAP totals' `error:` does for CI).
    public var closingCount: String {
        "\(passed) passed, \(failures + errors) failed" + (skipped > 0 ? ", \(skipped) skipped" : "")
    }

    private func sum(where belongs: (ScenarioStatus) -> Bool) -> Int {
        counts.filter { belongs($0.key) }.values.reduce(0, +)
    }
}
