/// The sysctls a scenario may set: only the one the kernel's livepatch
/// selftest sets (test-ftrace.sh), so a scenario cannot turn other kernel
/// knobs. Each lives under /proc/sys with its dots as slashes
/// (Documentation/admin-guide/sysctl/kernel.rst, ftrace_enabled).
public enum Sysctl: String, CaseIterable, Equatable, Hashable, Sendable {
    case ftraceEnabled = "kernel.ftrace_enabled"

    /// `/proc/sys/kernel/ftrace_enabled`, under `procRoot`.
    public func path(procRoot: String = "/proc") -> String {
        "\(procRoot)/sys/" + rawValue.replacing(".", with: "/")
    }

    public func read(procRoot: String = "/proc") throws(KernelFileError) -> String {
        try KernelFile.readValue(path(procRoot: procRoot))
    }

    /// One write(2), as sysctl(8) does; the kernel's refusal (EBUSY while a
    /// livepatch holds an ftrace handler, kernel/trace/ftrace.c
    /// ftrace_enable_sysctl) comes back as the error's errno.
    public func write(_ value: String, procRoot: String = "/proc") throws(KernelFileError) {
        try KernelFile.write(value, to: path(procRoot: procRoot))
    }
}

/// The values of the sysctls a scenario touched, as found before it ran, so
/// the clean-up can put each back on every path.
public struct SysctlSnapshot: Sendable {
    public var procRoot: String
    private(set) var saved: [Sysctl: String] = [:]

    public init(procRoot: String = "/proc") { self.procRoot = procRoot }

    /// Remembers the current value of each key (once per scenario).
    public mutating func save(_ keys: some Sequence<Sysctl>) {
        for key in keys where saved[key] == nil {
            if let value = try? key.read(procRoot: procRoot) { saved[key] = value }
        }
    }

    /// Writes back every saved value that changed; one line per thing done.
    public mutating func restore() -> [String] {
        var log: [String] = []
        for (key, value) in saved.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard let now = try? key.read(procRoot: procRoot), now != value else { continue }
            do {
                try key.write(value, procRoot: procRoot)
                log.append("restored \(key.rawValue) from \(now) to \(value)")
            } catch {
                log.append("failed: restore \(key.rawValue) to \(value): \(error)")
            }
        }
        saved = [:]
        return log
    }
}
