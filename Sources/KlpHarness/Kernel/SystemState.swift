#if canImport(Glibc)
import Glibc
#endif

/// Facts about the running kernel and process that decide whether the suite
/// can run here at all.
public enum SystemState {
    /// `uname -r`.
    public static var kernelRelease: String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: name.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    public static var isRoot: Bool { geteuid() == 0 }

    /// Names of the loaded modules, from /proc/modules.
    public static func loadedModules(procModules: String = "/proc/modules") -> Set<String> {
        guard let text = try? KernelFile.read(procModules) else { return [] }
        return Set(text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
    }
}
