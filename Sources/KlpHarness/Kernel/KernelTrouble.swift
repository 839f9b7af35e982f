/// A kernel crash, BUG or warning during a scenario, found in its kernel-log
/// records or in /proc/sys/kernel/tainted. A transcript can match while the
/// kernel oopsed in a callback; this is what makes such a scenario fail.
public struct KernelTrouble: Equatable, Sendable {
    /// The line for KTAP: `kernel crashed: WARNING: CPU: 1 PID: …` or
    /// `kernel tainted: W`.
    public var headline: String
    /// The log from the first report line, at most `KernelCrash.excerptLimit` lines.
    public var excerpt: [String]

    /// The first crash, BUG or WARN among `records` (kernel records only: a
    /// scenario's own lines come from user space), or nil. The console of a
    /// crashed guest is read the same way (KernelCrash).
    public static func crash(in records: [KmsgRecord]) -> KernelTrouble? {
        guard let crash = KernelCrash.first(in: records.filter(\.isFromKernel).map(\.dmesgLine)) else { return nil }
        return KernelTrouble(headline: "kernel crashed: \(crash.headline)", excerpt: crash.excerpt)
    }

    /// Taint flags that loading our own modules sets, which say nothing
    /// about the kernel's health: O (out-of-tree, 4096), E (unsigned, 8192)
    /// and K (livepatched, 32768). See Documentation/admin-guide/tainted-kernels.rst.
    public static let expectedTaint: UInt64 = 4096 | 8192 | 32768

    /// One letter per taint bit, in bit order, as tainted-kernels.rst lists them.
    static let taintLetters: [Character] = Array("PFSRMBUDAWCIOELKXTNJ")

    /// The flags set in `after` but not in `before`, other than `expectedTaint`,
    /// as letters (`W`, `DW`), or nil when there are none. Compared with the
    /// scenario's start, since a flag such as W stays for the rest of the boot.
    public static func newTaint(before: UInt64, after: UInt64) -> String? {
        let gained = after & ~before & ~expectedTaint
        guard gained != 0 else { return nil }
        var letters = ""
        for bit in 0..<64 where gained & (1 << UInt64(bit)) != 0 {
            letters += bit < taintLetters.count ? String(taintLetters[bit]) : "(bit \(bit))"
        }
        return letters
    }

    /// /proc/sys/kernel/tainted, or nil if it cannot be read.
    public static func readTaint(_ path: String = "/proc/sys/kernel/tainted") -> UInt64? {
        (try? KernelFile.readValue(path)).flatMap { UInt64($0) }
    }

    /// What went wrong in a scenario's window: a crash in its records first,
    /// else a taint flag it gained.
    public static func find(in records: [KmsgRecord], taintBefore: UInt64?, taintAfter: UInt64?) -> KernelTrouble? {
        if let crash = crash(in: records) { return crash }
        if let before = taintBefore, let after = taintAfter, let letters = newTaint(before: before, after: after) {
            return KernelTrouble(headline: "kernel tainted: \(letters) (/proc/sys/kernel/tainted \(before) -> \(after))", excerpt: [])
        }
        return nil
    }
}
