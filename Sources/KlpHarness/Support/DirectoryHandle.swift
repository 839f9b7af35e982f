#if canImport(Glibc)
import Glibc
#endif

/// An open directory that the runner clears and writes into without ever
/// following a symbolic link: it is opened with O_DIRECTORY|O_NOFOLLOW, and
/// everything below it is created, opened, renamed and removed relative to
/// its descriptor (openat/mkdirat/unlinkat/renameat). A link planted in the
/// results folder is removed as a link, never followed out of the tree.
/// See openat(2) and the O_NOFOLLOW notes in open(2).
/// I/O style: raw Glibc, because swift-system 1.8.1 has no *at calls
/// outside its io_uring API.
public final class DirectoryHandle {
    public let path: String
    let fd: Int32

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Why a results directory is refused, or nil. The rule, stated once:
    /// a directory the runner clears or writes must not be a symbolic link,
    /// and where other users may write to its parent it must belong to the
    /// runner's user or to root, since anyone else could have planted it.
    static func refusal(isSymlink: Bool, owner: uid_t, parentWorldWritable: Bool, euid: uid_t) -> String? {
        if isSymlink { return "is a symbolic link" }
        if parentWorldWritable && owner != euid && owner != 0 {
            return "belongs to user \(owner), not to this user (\(euid)) or root, and sits in a directory every user may write to"
        }
        return nil
    }

    /// Opens (creating if needed) the directory `path`. Missing parents are
    /// created as with mkdir -p; the last component itself must pass `refusal`.
    public static func open(creating given: String) throws -> DirectoryHandle {
        // "link/" would make even O_NOFOLLOW resolve the link: drop the slashes.
        var path = given
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let parent = parentPath(of: path)
        if parent != path {
            do {
                try FileBytes.makeDirectories(parent)
            } catch {
                throw notWritable(error.path, error.errno.code)
            }
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw notWritable(path, errno)
        }
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw openFailure(path, errno) }
        let handle = DirectoryHandle(fd: fd, path: path)
        var parentInfo = stat()
        let parentWorldWritable = stat(parent, &parentInfo) == 0 && (parentInfo.st_mode & S_IWOTH) != 0
        try handle.check(parentWorldWritable: parentWorldWritable)
        return handle
    }

    /// Opens (creating if needed) the subdirectory `name`, under the same rule.
    public func subdirectory(_ name: String) throws -> DirectoryHandle {
        try Self.checkName(name, in: path)
        if mkdirat(fd, name, 0o755) != 0 && errno != EEXIST {
            throw Self.notWritable("\(path)/\(name)", errno)
        }
        let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else { throw Self.openFailure("\(path)/\(name)", errno) }
        let handle = DirectoryHandle(fd: child, path: "\(path)/\(name)")
        try handle.check(parentWorldWritable: (try mode() & S_IWOTH) != 0)
        return handle
    }

    private func check(parentWorldWritable: Bool) throws {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Self.openFailure(path, errno) }
        if let reason = Self.refusal(isSymlink: false, owner: info.st_uid,
                                     parentWorldWritable: parentWorldWritable, euid: geteuid()) {
            throw Self.refused(path, reason)
        }
    }

    private func mode() throws -> mode_t {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Self.openFailure(path, errno) }
        return info.st_mode
    }

    /// The entries, without `.` and `..`, sorted.
    public func entries() throws -> [String] {
        // A fresh open of "." gets its own offset, so listing never disturbs fd.
        let own = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard own >= 0, let dir = fdopendir(own) else {
            throw KernelFileError(path: path, operation: "list", errno: ErrnoDescription(errno))
        }
        defer { closedir(dir) }
        return KernelFile.entryNames(of: dir)
    }

    /// rm -rf of every entry but `kept`. Links are unlinked, never followed.
    public func removeContents(except kept: Set<String> = []) throws {
        for name in try entries() where !kept.contains(name) {
            try remove(name)
        }
    }

    private func remove(_ name: String) throws {
        var info = stat()
        guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw KernelFileError(path: "\(path)/\(name)", operation: "remove", errno: ErrnoDescription(errno))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else {
                throw KernelFileError(path: "\(path)/\(name)", operation: "remove", errno: ErrnoDescription(errno))
            }
            try DirectoryHandle(fd: child, path: "\(path)/\(name)").removeContents()
            guard unlinkat(fd, name, AT_REMOVEDIR) == 0 else {
                throw KernelFileError(path: "\(path)/\(name)", operation: "remove", errno: ErrnoDescription(errno))
            }
        } else if unlinkat(fd, name, 0) != 0 && errno != ENOENT {
            throw KernelFileError(path: "\(path)/\(name)", operation: "remove", errno: ErrnoDescription(errno))
        }
    }

    /// Replaces `name` atomically: the text goes to a temporary file in this
    /// directory, which is then renamed over `name` (rename(2) replaces a
    /// link itself, it does not write through it). Readers see the old file
    /// or the new one, never half of one.
    public func writeAtomically(_ text: String, to name: String) throws {
        try Self.checkName(name, in: path)
        let temporary = ".\(name).tmp"
        if unlinkat(fd, temporary, 0) != 0 && errno != ENOENT {
            throw KernelFileError(path: "\(path)/\(temporary)", operation: "replace", errno: ErrnoDescription(errno))
        }
        let file = openat(fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard file >= 0 else {
            throw KernelFileError(path: "\(path)/\(temporary)", operation: "create", errno: ErrnoDescription(errno))
        }
        do {
            try Self.writeAll(Array(text.utf8), to: file, path: "\(path)/\(temporary)")
        } catch {
            close(file)
            throw error
        }
        close(file)
        guard renameat(fd, temporary, fd, name) == 0 else {
            throw KernelFileError(path: "\(path)/\(name)", operation: "replace", errno: ErrnoDescription(errno))
        }
    }

    /// Opens `name` for appending (created if missing, never through a link).
    public func appender(_ name: String) throws -> LineAppender {
        try Self.checkName(name, in: path)
        let file = openat(fd, name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw Self.openFailure("\(path)/\(name)", errno) }
        return LineAppender(rawDescriptor: file)
    }

    static func writeAll(_ bytes: [UInt8], to file: Int32, path: String) throws {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(file, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                throw KernelFileError(path: path, operation: "write", errno: ErrnoDescription(errno))
            }
            written += count
        }
    }

    /// One path component: not empty, not `.` or `..`, no `/`.
    static func checkName(_ name: String, in directory: String) throws {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/") else {
            throw ResultsFolderError(refused: true, error: HarnessError.badInput(
                "'\(name)' is not a file name inside \(directory)",
                remedy: "scenario names become folder names: rename the scenario file"))
        }
    }

    static func parentPath(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    static func refused(_ path: String, _ reason: String) -> ResultsFolderError {
        ResultsFolderError(refused: true, error: HarnessError.badInput(
            "results folder \(path) \(reason); the runner deletes and writes files there and will not do so where another user could redirect it",
            remedy: "pass --results a directory of your own (e.g. one made with mktemp -d), or remove \(path)"))
    }

    static func notWritable(_ path: String, _ code: Int32) -> ResultsFolderError {
        ResultsFolderError(refused: false, error: HarnessError.badInput(
            "cannot create results folder \(path): \(ErrnoDescription(code))",
            remedy: "pass --results a directory this user can write (nothing was loaded)"))
    }

    static func openFailure(_ path: String, _ code: Int32) -> ResultsFolderError {
        // O_NOFOLLOW|O_DIRECTORY on a link gives ENOTDIR (or ELOOP), as on
        // any other non-directory: lstat tells which it was.
        if code == ELOOP || code == ENOTDIR {
            var info = stat()
            let isLink = lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
            return refused(path, isLink ? "is a symbolic link" : "is not a directory")
        }
        return notWritable(path, code)
    }
}

/// A results folder the runner will not use: `refused` when it is unsafe (a
/// link, another user's), else it is only not writable.
public struct ResultsFolderError: Error, CustomStringConvertible {
    public var refused: Bool
    public var error: HarnessError

    public var description: String { error.description }
}
