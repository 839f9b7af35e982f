import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file byte I/O for kernel images, initramfs parts and the results
/// channel: files are created with O_NOFOLLOW, so a symlink planted where
/// the harness writes is refused instead of followed.
/// I/O style: `FileDescriptor` for the bytes; raw Glibc for unlink(2),
/// rename(2) and stat(2), which swift-system 1.8.1 does not wrap.
public enum FileBytes {
    public static func read(_ path: String, limit: Int = .max) throws(KernelFileError) -> [UInt8] {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(FilePath(path), .readOnly) } catch {
            throw KernelFileError(path: path, operation: "read", errno: ErrnoDescription(error))
        }
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < limit {
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            } catch {
                throw KernelFileError(path: path, operation: "read", errno: ErrnoDescription(error))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<min(count, limit - bytes.count)])
        }
        return bytes
    }

    public static func write<Bytes: Collection>(_ bytes: Bytes, to path: String) throws(KernelFileError) where Bytes.Element == UInt8 {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate, .noFollow],
                                         permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw KernelFileError(path: path, operation: "create", errno: ErrnoDescription(error))
        }
        defer { try? fd.close() }
        do {
            _ = try fd.writeAll(bytes)
        } catch {
            throw KernelFileError(path: path, operation: "write", errno: ErrnoDescription(error))
        }
    }

    /// The atomic write by path: `bytes` go to `path.tmp`, which is then
    /// renamed over `path` (rename(2) replaces in one step), so a reader, or
    /// a run killed halfway, sees the old file or the new one, never a part.
    /// A results folder uses the other one, `DirectoryHandle.writeAtomically`,
    /// which works relative to the folder's open descriptor.
    public static func replace<Bytes: Collection>(_ path: String, with bytes: Bytes) throws(KernelFileError) where Bytes.Element == UInt8 {
        let temporary = path + ".tmp"
        do {
            try write(bytes, to: temporary)
            try rename(temporary, to: path)
        } catch {
            // A part written before the disk filled is nobody's file.
            try? remove(temporary)
            throw error
        }
    }

    public static func remove(_ path: String) throws(KernelFileError) {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw KernelFileError(path: path, operation: "remove", errno: ErrnoDescription(errno))
        }
    }

    public static func rename(_ from: String, to: String) throws(KernelFileError) {
        guard Glibc.rename(from, to) == 0 else {
            throw KernelFileError(path: to, operation: "replace", errno: ErrnoDescription(errno))
        }
    }

    /// Cuts `path` back to `length` bytes and appends `bytes`.
    public static func truncateAndAppend(_ path: String, at length: Int, _ bytes: [UInt8]) throws(KernelFileError) {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.noFollow]) } catch {
            throw KernelFileError(path: path, operation: "open", errno: ErrnoDescription(error))
        }
        defer { try? fd.close() }
        do {
            try fd.resize(to: Int64(length))
            _ = try fd.seek(offset: 0, from: .end)
            _ = try fd.writeAll(bytes)
        } catch {
            throw KernelFileError(path: path, operation: "write", errno: ErrnoDescription(error))
        }
    }

    /// The size of a file, or nil when it does not exist.
    public static func size(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    /// A text file, written whole (created or truncated; never through a link).
    public static func write(_ text: String, to path: String) throws(KernelFileError) {
        try write(Array(text.utf8), to: path)
    }

    /// Lines, each ended by a newline.
    public static func writeLines(_ lines: [String], to path: String) throws(KernelFileError) {
        try write(lines.map { $0 + "\n" }.joined(), to: path)
    }

    /// mkdir -p.
    public static func makeDirectories(_ path: String) throws(KernelFileError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/\(part)"
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw KernelFileError(path: current, operation: "create directory", errno: ErrnoDescription(errno))
            }
        }
    }

    /// rm -rf, without following symlinks out of the tree.
    public static func removeTree(_ path: String) throws(KernelFileError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in try KernelFile.listDirectory(path) { try removeTree("\(path)/\(name)") }
            if rmdir(path) != 0 { throw KernelFileError(path: path, operation: "remove", errno: ErrnoDescription(errno)) }
        } else if unlink(path) != 0 {
            throw KernelFileError(path: path, operation: "remove", errno: ErrnoDescription(errno))
        }
    }
}

extension Array where Element == UInt8 {
    /// The unsigned little-endian integer of `size` bytes at `offset`: the
    /// byte order of the bzImage boot header and of x86-64 ELF files. The
    /// caller has checked the bytes are there.
    func littleEndian(at offset: Int, size: Int) -> Int {
        (0..<size).reduce(0) { $0 | Int(self[offset + $1]) << (8 * $1) }
    }
}
