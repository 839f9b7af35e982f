public struct ScenarioResult: Sendable {
    public enum Status: Equatable, Sendable {
        case passed
        case failed
        /// The scenario's time limit passed while waiting for `condition`.
        case timedOut(limit: Duration, condition: String)
        /// The run was interrupted by a signal during this scenario.
        case interrupted(signal: String)
        /// The harness could not drive the kernel (e.g. /dev/kmsg unreadable),
        /// or could not leave it clean afterwards.
        case error(String)
        /// The kernel oopsed, hit a BUG or WARN, or gained a taint flag
        /// during the scenario; the headline says which (KernelTrouble).
        case crashed(String)
        /// Not run: the kernel is older than the scenario's `% requires`
        /// line; the reason says which version it needs and why.
        case skipped(String)
    }

    public var scenario: Scenario
    public var status: Status
    public var actual: [String]
    /// Every kernel-log record from the scenario's start marker to its end.
    public var records: [KmsgRecord]
    public var wallTime: Duration
    public var transitions: [TransitionSpan]
    /// Notes for a person: clean-up performed, where the run stopped, …
    public var diagnostics: [String]

    /// The release the scenario ran on; picks kernel-specific lines.
    public var kernel: String?

    /// The kernel's report when the status is `crashed`, as dmesg lines.
    public var crashExcerpt: [String] = []

    /// Records of the transcript the kernel's log ring overwrote before the
    /// runner read them. Then the transcript is not what the kernel printed,
    /// and no diff of it is shown: it would blame the kernel for the loss.
    public var lostRecords: UInt64 = 0

    /// Whether a diff of the transcript means something: it did not pass, and
    /// nothing of it is missing.
    public var showsDiff: Bool { !passed && !isSkipped && lostRecords == 0 }

    public var expected: [String] { scenario.transcript(for: kernel) }

    /// The scenario file's line number of each expected line.
    public var expectedLineNumbers: [Int] { scenario.lines.filter { $0.applies(to: kernel) }.map(\.line) }

    public var passed: Bool { status == .passed }

    public var isSkipped: Bool {
        if case .skipped = status { true } else { false }
    }

    /// Passed or skipped: nothing for the suite's exit status to count.
    public var isSuccess: Bool { passed || isSkipped }
}
