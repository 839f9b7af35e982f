#if canImport(Glibc)
import Glibc
#endif

/// `ls -l`-style rights of a path, as functions.sh's check_sysfs_rights
/// reads them with `stat --format '%A'` (which does not follow links).
public enum FileRights {
    public static func of(_ path: String) throws(KernelFileError) -> String {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw KernelFileError(path: path, operation: "stat", errno: ErrnoDescription(errno))
        }
        return describe(mode: UInt32(info.st_mode))
    }

    /// `S_IFDIR | 0755` → `drwxr-xr-x`, with coreutils' letters for setuid,
    /// setgid and sticky (s/S, t/T).
    public static func describe(mode: UInt32) -> String {
        let type: Character = switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFDIR): "d"
        case UInt32(S_IFLNK): "l"
        case UInt32(S_IFCHR): "c"
        case UInt32(S_IFBLK): "b"
        case UInt32(S_IFIFO): "p"
        case UInt32(S_IFSOCK): "s"
        default: "-"
        }
        func triple(_ shift: UInt32, special: UInt32, set: Character, unset: Character) -> String {
            let bits = (mode >> shift) & 7
            let execute: Character = switch (bits & 1 != 0, mode & special != 0) {
            case (true, true): set
            case (false, true): unset
            case (true, false): "x"
            case (false, false): "-"
            }
            return (bits & 4 != 0 ? "r" : "-") + (bits & 2 != 0 ? "w" : "-") + String(execute)
        }
        return String(type)
            + triple(6, special: UInt32(S_ISUID), set: "s", unset: "S")
            + triple(3, special: UInt32(S_ISGID), set: "s", unset: "S")
            + triple(0, special: UInt32(S_ISVTX), set: "t", unset: "T")
    }
}
