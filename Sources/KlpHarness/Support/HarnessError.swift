/// How a run ended, as a process exit code. CI keys off these, so each
/// outcome a person must react to differently has its own code.
public enum ExitStatus: Int32, Sendable {
    /// Every scenario passed.
    case passed = 0
    /// At least one scenario failed or timed out: the kernel did something
    /// other than what a transcript expects.
    case failed = 1
    /// Bad input: a path, a module, a scenario file or an option is wrong.
    case badInput = 2
    /// The infrastructure failed (VM did not boot, died, or hit its wall-clock
    /// limit; a build or download failed). Says nothing about the kernel.
    case infrastructure = 3
    /// This kernel or user cannot run the suite (kselftest's skip code).
    case skipped = 4
    /// Stopped by a signal, 128 + its number: SIGHUP 129, SIGINT 130,
    /// SIGPIPE 141, SIGTERM 143. Clean-up ran first.
    case interruptedByHangup = 129
    case interruptedByInt = 130
    case interruptedByBrokenPipe = 141
    case interruptedByTerm = 143
}

/// An error the harness reports to a person: what happened, and what to do.
public struct HarnessError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: ExitStatus
    public var problem: String
    public var remedy: String?

    public init(_ status: ExitStatus, _ problem: String, remedy: String? = nil) {
        self.status = status
        self.problem = problem
        self.remedy = remedy
    }

    public var description: String {
        guard let remedy else { return problem }
        return "\(problem); \(remedy)"
    }

    static func badInput(_ problem: String, remedy: String? = nil) -> HarnessError {
        HarnessError(.badInput, problem, remedy: remedy)
    }

    static func infrastructure(_ problem: String, remedy: String? = nil) -> HarnessError {
        HarnessError(.infrastructure, problem, remedy: remedy)
    }
}

extension ExitStatus {
    /// The verdict of several runs (kernels, LAVA jobs): 1 if any scenario
    /// failed anywhere, else 3 if any VM or job failed, else the worst
    /// remaining code; all skipped is a skip. A real regression is never
    /// masked by an infrastructure hiccup on another kernel or job.
    public static func overall(_ statuses: [ExitStatus]) -> ExitStatus {
        for wanted in [ExitStatus.failed, .infrastructure, .interruptedByTerm, .interruptedByInt, .interruptedByHangup, .interruptedByBrokenPipe, .badInput] where statuses.contains(wanted) {
            return wanted
        }
        return statuses.allSatisfy { $0 == .skipped } ? .skipped : .passed
    }
}
