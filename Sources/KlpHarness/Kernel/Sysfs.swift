/// The livepatch and module knobs the scenarios drive, under a sysfs root
/// (`/sys` on a real kernel).
public struct Sysfs: Sendable {
    public var root: String

    public init(root: String = "/sys") { self.root = root }

    public var livepatchRoot: String { "\(root)/kernel/livepatch" }

    public func patchDirectory(_ patch: String) -> String { "\(livepatchRoot)/\(patch)" }

    public func moduleDirectory(_ module: String) -> String { "\(root)/module/\(module)" }

    public func parameter(_ name: String, of module: String) -> String {
        "\(moduleDirectory(module))/parameters/\(name)"
    }

    public var supportsLivepatch: Bool { KernelFile.exists(livepatchRoot) }

    public func isPatchPresent(_ patch: String) -> Bool { KernelFile.exists(patchDirectory(patch)) }

    public func isInTransition(_ patch: String) throws(KernelFileError) -> Bool {
        try KernelFile.readValue("\(patchDirectory(patch))/transition") == "1"
    }

    public func isEnabled(_ patch: String) throws(KernelFileError) -> Bool {
        try KernelFile.readValue("\(patchDirectory(patch))/enabled") == "1"
    }

    /// Patches currently registered with the livepatch core.
    public func patches() -> [String] {
        (try? KernelFile.listDirectory(livepatchRoot)) ?? []
    }

    /// The module's reference count, or nil when it is not loaded.
    public func referenceCount(of module: String) -> Int? {
        guard let text = try? KernelFile.readValue("\(moduleDirectory(module))/refcnt") else { return nil }
        return Int(text)
    }
}

extension KernelFile {
    public static func listDirectory(_ path: String) throws(KernelFileError) -> [String] {
        guard let dir = opendir(path) else {
            throw KernelFileError(path: path, operation: "list", errno: ErrnoDescription(errno))
        }
        defer { closedir(dir) }
        return entryNames(of: dir)
    }

    /// The names an open directory stream lists, without `.` and `..`, sorted.
    static func entryNames(of dir: OpaquePointer) -> [String] {
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

#if canImport(Glibc)
import Glibc
#endif
