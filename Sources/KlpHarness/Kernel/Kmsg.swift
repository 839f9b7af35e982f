import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Reads the kernel log record by record from `/dev/kmsg`. One reader is
/// kept open for a whole run; each scenario takes the records after its own
/// start marker, so nothing is re-read and nothing is lost between scenarios.
///
/// The log is a ring: a record the kernel overwrites before this reader gets
/// to it is gone. read(2) then fails once with EPIPE and moves on to the
/// oldest record left (Documentation/ABI/testing/dev-kmsg; devkmsg_read() in
/// kernel/printk/printk.c), so the loss shows as a jump in the sequence
/// numbers, which `sequence` measures record by record.
public final class KmsgReader {
    private let fd: FileDescriptor
    private var buffer = [UInt8](repeating: 0, count: 16384)
    /// The sequence numbers read so far, and where they jumped.
    public private(set) var sequence = KmsgSequence()
    /// Times read(2) said EPIPE: the ring overtook this reader. Each is
    /// followed by a gap in `sequence`, which says how many records went.
    public private(set) var overruns = 0
    /// Records the kernel overwrote before this reader read them, since it opened.
    public var lostRecords: UInt64 { sequence.lostRecords }

    public init(path: String = "/dev/kmsg") throws(KernelFileError) {
        do {
            fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.nonBlocking])
        } catch {
            throw KernelFileError(path: path, operation: "open", errno: ErrnoDescription(error))
        }
    }

    deinit { try? fd.close() }

    /// Every record available now, without blocking.
    public func readAvailable() throws(KernelFileError) -> [KmsgRecord] {
        var records: [KmsgRecord] = []
        while let record = try readOne() { records.append(record) }
        return records
    }

    /// Reads until a record satisfies `isLast` (inclusive), waiting with
    /// poll(2) for new records up to the deadline.
    public func read(
        until isLast: (KmsgRecord) -> Bool,
        deadline: Deadline,
        waitingFor condition: String
    ) throws -> [KmsgRecord] {
        var records: [KmsgRecord] = []
        while true {
            while let record = try readOne() {
                records.append(record)
                if isLast(record) { return records }
            }
            if deadline.hasPassed { throw WaitTimeout(condition: condition, limit: deadline.limit) }
            var pfd = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 10)
        }
    }

    private func readOne() throws(KernelFileError) -> KmsgRecord? {
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) }
            if count > 0 {
                let text = String(decoding: buffer[..<count], as: UTF8.self)
                if let record = KmsgRecord(kmsg: text[...]) {
                    sequence.note(record)
                    return record
                }
                continue
            }
            let error = errno
            switch error {
            case EAGAIN: return nil
            case EINTR: continue
            case EPIPE: overruns += 1; continue
            default:
                throw KernelFileError(path: "/dev/kmsg", operation: "read", errno: ErrnoDescription(error))
            }
        }
    }
}

/// Writes lines into the kernel log, so the harness's actions and the
/// kernel's messages interleave in one ordered stream.
public struct KmsgWriter: Sendable {
    public var path: String

    public init(path: String = "/dev/kmsg") { self.path = path }

    /// The kernel rate-limits writes per open file (about ten per five
    /// seconds) unless `printk.devkmsg=on`; a fresh open per line has a fresh
    /// limit, so no marker is ever dropped, whatever the boot parameters.
    /// `<14>` is facility user, level info, as logger(1) writes.
    public func write(_ line: String) throws(KernelFileError) {
        try KernelFile.write("<14>\(line)\n", to: path)
    }
}
