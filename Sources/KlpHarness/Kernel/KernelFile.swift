import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Thin wrappers over open/read/write for the small text files of sysfs,
/// procfs and debugfs. Errors keep the errno and the path.
/// I/O style: swift-system's `FileDescriptor`, because these files need the
/// exact system calls (one write(2) per value) and the errno they fail with.
public struct KernelFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var errno: ErrnoDescription

    public var description: String { "could not \(operation) \(path): \(errno.message) (\(errno.name))" }
}

public enum KernelFile {
    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public static func read(_ path: String) throws(KernelFileError) -> String {
        String(decoding: try FileBytes.read(path), as: UTF8.self)
    }

    /// The first line of a one-value file such as `enabled` or `refcnt`.
    public static func readValue(_ path: String) throws(KernelFileError) -> String {
        String(try read(path).prefix { $0 != "\n" })
    }

    /// The whole file without its trailing newlines, as `$(cat FILE)` gives
    /// it to functions.sh's check_sysfs_value.
    public static func readContent(_ path: String) throws(KernelFileError) -> String {
        var text = try read(path)
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    /// Writes `text` with one write(2), which is how sysfs and the dynamic
    /// debug control file expect to receive a value or a query.
    public static func write(_ text: String, to path: String) throws(KernelFileError) {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(FilePath(path), .writeOnly) } catch {
            throw KernelFileError(path: path, operation: "open", errno: ErrnoDescription(error))
        }
        defer { try? fd.close() }
        do {
            _ = try fd.writeAll(Array(text.utf8))
        } catch {
            throw KernelFileError(path: path, operation: "write", errno: ErrnoDescription(error))
        }
    }
}
