/// Turns on the livepatch core's pr_debug messages ("initializing patching
/// transition", "completing … transition", …), which the transcripts expect,
/// and puts back exactly the previous setting afterwards.
public final class DynamicDebug {
    public let controlPath: String
    private let previouslyEnabled: [Site]
    private var restored = false

    /// A pr_debug call site, as the control file lists it.
    struct Site: Equatable {
        var file: String
        var line: Int
    }

    /// The control file, mounting debugfs if the kernel has no /proc copy.
    public static func locateControl(
        proc: String = "/proc/dynamic_debug/control",
        debugfsMount: String = "/sys/kernel/debug"
    ) throws -> String {
        if KernelFile.exists(proc) { return proc }
        let debugfs = "\(debugfsMount)/dynamic_debug/control"
        if !KernelFile.exists(debugfs) && KernelFile.exists(debugfsMount) {
            _ = mount("debugfs", debugfsMount, "debugfs", 0, nil)
        }
        if KernelFile.exists(debugfs) { return debugfs }
        throw HarnessError(
            .skipped,
            "this kernel has no dynamic debug control file (\(proc) or \(debugfs))",
            remedy: "the transcripts expect the livepatch core's pr_debug lines: use a kernel built with CONFIG_DYNAMIC_DEBUG=y"
        )
    }

    /// Enables `+p` for every call site under kernel/livepatch/ except
    /// klp_try_switch_task's "… is running" / "… is sleeping on function …",
    /// which report each 1 s retry and so depend on timing, not on the
    /// behaviour under test. The kernel's own selftest makes the same cut.
    public init(controlPath: String) throws {
        self.controlPath = controlPath
        let sites = try KernelFile.read(controlPath)
        previouslyEnabled = Self.enabledSites(in: sites, under: "kernel/livepatch/")
        try KernelFile.write("file kernel/livepatch/* +p", to: controlPath)
        try KernelFile.write("func klp_try_switch_task -p", to: controlPath)
    }

    /// Parses control lines like
    /// `kernel/livepatch/transition.c:596 [livepatch]klp_reverse_transition =p "…"`.
    static func enabledSites(in control: String, under prefix: String) -> [Site] {
        control.split(separator: "\n").compactMap { line in
            guard line.hasPrefix(prefix) else { return nil }
            let fields = line.split(separator: " ")
            guard fields.count >= 3, let colon = fields[0].lastIndex(of: ":"),
                  let number = Int(fields[0][fields[0].index(after: colon)...]),
                  fields[2].hasPrefix("="), fields[2].contains("p")
            else { return nil }
            return Site(file: String(fields[0][..<colon]), line: number)
        }
    }

    /// Puts back the setting found at start. Safe to call more than once.
    public func restore() {
        guard !restored else { return }
        restored = true
        try? KernelFile.write("file kernel/livepatch/* -p", to: controlPath)
        for site in previouslyEnabled {
            try? KernelFile.write("file \(site.file) line \(site.line) +p", to: controlPath)
        }
    }

    deinit { restore() }
}

#if canImport(Glibc)
import Glibc
#endif
