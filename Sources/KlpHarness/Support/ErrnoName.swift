#if canImport(Glibc)
import Glibc
#endif

/// The symbolic name and the C library's description of an errno value, so
/// that messages read `-19 (ENODEV: No such device)` instead of a bare number.
public struct ErrnoDescription: Equatable, Sendable, CustomStringConvertible {
    public let code: Int32

    public init(_ code: Int32) { self.code = abs(code) }

    public var name: String { Self.names[code] ?? "E\(code)" }

    /// The text insmod and the shell print for this errno (strerror).
    public var message: String { String(cString: strerror(code)) }

    public var description: String { "\(name): \(message)" }

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

import SystemPackage

extension ErrnoDescription {
    /// The errno inside an error thrown by swift-system (EIO if it has none).
    init(_ error: any Error) {
        self.init((error as? Errno)?.rawValue ?? EIO)
    }
}
