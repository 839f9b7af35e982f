extension ExitStatus {
    /// The exit code for `git bisect run` (`--bisect`). git reads 0 as good,
    /// 125 as "cannot test this commit, skip it", any other code from 1 to
    /// 127 as bad, and anything above 127 as a reason to abort the bisect
    /// (git-bisect(1), "Bisect run"). So:
    /// - a verdict on the kernel stays: 0 passed, 1 a scenario failed
    ///   (a wrong transcript, a crash, a hang, a taint);
    /// - what says nothing about the kernel becomes 125: bad input (2), an
    ///   infrastructure failure (3: a download, the module build against
    ///   this commit, a VM that did not boot) and a kernel that cannot run
    ///   the suite (4: its .config lacks an option the fragment needs);
    /// - an interruption (129, 130, 141, 143) stays above 127: the person
    ///   who pressed Ctrl-C wants the bisect to stop, not a commit skipped.
    public var bisectCode: Int32 {
        switch self {
        case .passed, .failed: rawValue
        case .badInput, .infrastructure, .skipped: 125
        case .interruptedByHangup, .interruptedByInt, .interruptedByBrokenPipe, .interruptedByTerm: rawValue
        }
    }
}
