import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The symbolic name and the C library's description of an errno value, so
/// that messages read `-19 (ENODEV: No such device)` instead of a bare number.
public struct ErrnoDescription: Equatable, Sendable, CustomStringConvertible {
    public let code: Int32

    /// `code` or its negation: libkmod and the kernel return `-errno`.
    public init(_ code: Int32) { self.code = abs(code) }

    public var name: String { Self.names[code] ?? "E\(code)" }

    /// The text insmod and the shell print for this errno: swift-system's
    /// `Errno.description`, which is strerror(3).
    public var message: String { Errno(rawValue: code).description }

    public var description: String { "\(name): \(message)" }

    // The small table remains because `SystemPackage.Errno` has no symbolic
    // name: its names are Swift ones (`Errno.noSuchDevice`) and both its
    // `description` and `debugDescription` are the strerror text (see
    // Sources/System/Errno.swift in swift-system). Messages print the C name
    // a kernel developer greps for (ENODEV), so these are the values the
    // kernel, libkmod and sysfs give the harness; any other prints as E<n>.
    static let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO",
        ENXIO: "ENXIO", E2BIG: "E2BIG", ENOEXEC: "ENOEXEC", EBADF: "EBADF", EAGAIN: "EAGAIN",
        ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST",
        ENODEV: "ENODEV", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", ENFILE: "ENFILE",
        EMFILE: "EMFILE", ETXTBSY: "ETXTBSY", EFBIG: "EFBIG", ENOSPC: "ENOSPC", EROFS: "EROFS",
        EPIPE: "EPIPE", ERANGE: "ERANGE", ENOSYS: "ENOSYS", ENOTEMPTY: "ENOTEMPTY",
        ENOKEY: "ENOKEY", EKEYREJECTED: "EKEYREJECTED", ETIMEDOUT: "ETIMEDOUT",
        EOPNOTSUPP: "EOPNOTSUPP", EBADMSG: "EBADMSG",
    ]
}

extension ErrnoDescription {
    /// The errno inside an error thrown by swift-system (EIO if it has none).
    init(_ error: any Error) {
        self.init((error as? Errno)?.rawValue ?? EIO)
    }
}
