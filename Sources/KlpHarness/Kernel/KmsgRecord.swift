/// One record of the kernel log as `/dev/kmsg` hands it out:
/// `<priority>,<sequence>,<microseconds>,<flags>[,…];<message>` followed by
/// optional ` KEY=value` dictionary lines (see Documentation/ABI/testing/dev-kmsg).
public struct KmsgRecord: Equatable, Sendable {
    public var sequence: UInt64
    /// Microseconds since boot, on the kernel's monotonic clock.
    public var timestamp: UInt64
    public var facility: Int
    public var level: Int
    public var message: String

    public init(sequence: UInt64, timestamp: UInt64, facility: Int = 0, level: Int = 6, message: String) {
        self.sequence = sequence
        self.timestamp = timestamp
        self.facility = facility
        self.level = level
        self.message = message
    }

    /// Records written by the kernel itself; userspace writes to /dev/kmsg
    /// default to facility 1 (LOG_USER).
    public var isFromKernel: Bool { facility == 0 }

    /// Parses one record as read from `/dev/kmsg`. Returns nil for text that
    /// is not a record, so a corrupt read never crashes the runner.
    public init?(kmsg text: Substring) {
        guard let semicolon = text.firstIndex(of: ";") else { return nil }
        let fields = text[..<semicolon].split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count >= 4,
              let priority = Int(fields[0]),
              let sequence = UInt64(fields[1]),
              let timestamp = UInt64(fields[2])
        else { return nil }
        let body = text[text.index(after: semicolon)...]
        let firstLine = body.prefix { $0 != "\n" }
        self.init(
            sequence: sequence,
            timestamp: timestamp,
            facility: priority >> 3,
            level: priority & 7,
            message: Self.unescape(firstLine)
        )
    }

    /// kmsg escapes non-printable bytes and backslashes as `\xNN`.
    static func unescape(_ text: Substring) -> String {
        guard text.contains("\\x") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.first == UInt8(ascii: "x"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.dropFirst().prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The line as `dmesg` shows it: `[   36.503719] livepatch: …`.
    public var dmesgLine: String {
        let seconds = String(timestamp / 1_000_000).leftPadded(to: 5)
        let micros = String(timestamp % 1_000_000).leftPadded(to: 6, with: "0")
        return "[\(seconds).\(micros)] \(message)"
    }

    /// Parses a line written by `dmesgLine` back (for results folders).
    public init?(dmesgLine line: Substring, sequence: UInt64) {
        guard line.first == "[", let close = line.firstIndex(of: "]") else { return nil }
        let stamp = line[line.index(after: line.startIndex)..<close].trimmingSpaces
        let parts = stamp.split(separator: ".")
        guard parts.count == 2, let s = UInt64(parts[0]), let us = UInt64(parts[1]) else { return nil }
        var message = line[line.index(after: close)...]
        if message.first == " " { message = message.dropFirst() }
        self.init(sequence: sequence, timestamp: s * 1_000_000 + us, message: String(message))
    }
}

extension StringProtocol {
    /// The text without leading and trailing blanks and tabs.
    var trimmingSpaces: SubSequence {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }),
              let last = lastIndex(where: { !isBlank($0) })
        else { return self[endIndex...] }
        return self[first...last]
    }
}

/// Records missing from the log as one reader saw it: the kernel assigns
/// every record the next sequence number (kernel/printk/printk_ringbuffer.c),
/// so a reader that gets record `after` and then record `before` has lost the
/// ones between, overwritten in the ring before it read them.
public struct KmsgGap: Equatable, Sendable {
    /// The last record read before the gap.
    public var after: UInt64
    /// The first record read after it.
    public var before: UInt64

    public init(after: UInt64, before: UInt64) {
        self.after = after
        self.before = before
    }

    /// How many records are missing.
    public var count: UInt64 { before - after - 1 }

    /// `records 12–530` (or `record 12`), in the kernel's own numbering.
    public var range: String {
        count == 1 ? "record \(after + 1)" : "records \(after + 1)–\(before - 1)"
    }
}

/// Follows the sequence numbers of the records one reader reads, in order,
/// and keeps every gap. A value, so a scenario can take a snapshot at its
/// start and ask what it lost since.
public struct KmsgSequence: Equatable, Sendable {
    /// The sequence number of the last record noted.
    public private(set) var last: UInt64?
    /// Every gap so far, oldest first.
    public private(set) var gaps: [KmsgGap] = []

    public init() {}

    /// All records lost so far.
    public var lostRecords: UInt64 { gaps.reduce(0) { $0 + $1.count } }

    /// Takes the next record read; returns the gap before it, if any. The
    /// first record opens the count: whatever came before it was never
    /// this reader's to lose.
    @discardableResult
    public mutating func note(_ record: KmsgRecord) -> KmsgGap? {
        defer { last = record.sequence }
        guard let last, record.sequence > last + 1 else { return nil }
        let gap = KmsgGap(after: last, before: record.sequence)
        gaps.append(gap)
        return gap
    }

    /// The gaps noted after `earlier` was taken (a snapshot of this value).
    public func gaps(since earlier: KmsgSequence) -> [KmsgGap] {
        Array(gaps.dropFirst(earlier.gaps.count))
    }
}
