/// The /proc files a scenario may read with `grep`: the two the kernel's
/// test livepatches change (cmdline_proc_show in fs/proc/cmdline.c,
/// meminfo_proc_show in fs/proc/meminfo.c).
public enum ProcFile: String, CaseIterable, Equatable, Sendable {
    case cmdline = "/proc/cmdline"
    case meminfo = "/proc/meminfo"

    /// The file's lines that contain `text` (a fixed string, as `grep -F`).
    public func lines(containing text: String, procRoot: String = "/proc") throws(KernelFileError) -> [String] {
        let path = procRoot + rawValue.dropFirst("/proc".count)
        return Self.lines(of: try KernelFile.read(path), containing: text)
    }

    static func lines(of content: String, containing text: String) -> [String] {
        content.split(separator: "\n").map(String.init).filter { $0.contains(text) }
    }
}
