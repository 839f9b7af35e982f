/// Picks out of a scenario's kernel-log records the lines a transcript
/// speaks about: the harness's own action and error lines, the livepatch
/// core's lines, and the test modules' lines, minus the taint notices that
/// appear once per boot and so depend on what ran before.
public struct TranscriptFilter: Sendable {
    /// Module names whose `name: …` lines belong in the transcript.
    public var modules: Set<String>

    public init(modules: Set<String>) { self.modules = modules }

    static let taintSuffixes = [
        "loading out-of-tree module taints kernel.",
        "tainting kernel with TAINT_LIVEPATCH",
        "module verification failed: signature and/or required key missing - tainting kernel",
    ]

    /// - Parameter harnessLines: what the harness wrote into the log during
    ///   the scenario; user-space records are kept only if they are ours.
    ///   That includes the lines a `grep` action copied from /proc (e.g.
    ///   `livepatch_cmdline: this has been live patched`): they are user
    ///   records like the action lines, whatever module name they start
    ///   with, so the module-name rule below never decides them.
    public func transcript(from records: [KmsgRecord], harnessLines: Set<String>) -> [String] {
        records.compactMap { record in
            if !record.isFromKernel {
                return harnessLines.contains(record.message) ? record.message : nil
            }
            return keepsKernelLine(record.message) ? record.message : nil
        }
    }

    public func keepsKernelLine(_ message: String) -> Bool {
        if message.hasPrefix("livepatch: ") { return true }
        guard let colon = message.firstIndex(of: ":"),
              modules.contains(String(message[..<colon])) else { return false }
        let rest = message[message.index(after: colon)...].trimmingSpaces
        return !Self.taintSuffixes.contains { rest == $0 }
    }
}
