/// An initramfs in the "newc" cpio format the kernel unpacks at boot (see
/// Documentation/driver-api/early-userspace/buffer-format.rst). Entries are
/// written in order; a directory must come before what it holds.
public struct CpioArchive: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var inode = 1

    public init() {}

    public mutating func directory(_ path: String, mode: UInt32 = 0o755) {
        entry(path, mode: 0o040000 | mode, data: [])
    }

    public mutating func file<Data: Collection>(_ path: String, _ data: Data, executable: Bool = false) where Data.Element == UInt8 {
        entry(path, mode: 0o100000 | (executable ? 0o755 : 0o644), data: data)
    }

    public mutating func symlink(_ path: String, to target: String) {
        entry(path, mode: 0o120777, data: Array(target.utf8))
    }

    /// Ends the archive. Several finished archives concatenated are still
    /// one initramfs to the kernel, later entries replacing earlier ones.
    public mutating func finish() {
        entry("TRAILER!!!", mode: 0, data: [], inode: 0)
    }

    private mutating func entry<Data: Collection>(_ path: String, mode: UInt32, data: Data, inode fixedInode: Int? = nil) where Data.Element == UInt8 {
        let name = path.hasPrefix("/") ? String(path.dropFirst()) : path
        let number = fixedInode ?? inode
        if fixedInode == nil { inode += 1 }
        let nlink = (mode & 0o170000) == 0o040000 ? 2 : 1
        // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
        let fields = [number, Int(mode), 0, 0, nlink, 0, data.count, 0, 0, 0, 0, name.utf8.count + 1, 0]
        bytes += Array("070701".utf8)
        for field in fields { bytes += Array(Self.hex8(field).utf8) }
        bytes += Array(name.utf8) + [0]
        pad()
        bytes += data
        pad()
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    static func hex8(_ value: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
