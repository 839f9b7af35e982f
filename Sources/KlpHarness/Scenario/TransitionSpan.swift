/// A livepatch transition as the kernel's own timestamps show it: from
/// `'P': initializing (un)patching transition` to `'P': (un)patching complete`.
/// A transition that is reversed or cancelled is one span until it completes.
public struct TransitionSpan: Equatable, Sendable {
    public var patch: String
    public var start: UInt64
    public var end: UInt64

    public var duration: Duration { .microseconds(Int64(end) - Int64(start)) }

    public static func spans(in records: [KmsgRecord]) -> [TransitionSpan] {
        var open: [String: UInt64] = [:]
        var spans: [TransitionSpan] = []
        for record in records where record.isFromKernel {
            guard let (patch, event) = parse(record.message) else { continue }
            switch event {
            case .initializing:
                if open[patch] == nil { open[patch] = record.timestamp }
            case .complete:
                if let start = open.removeValue(forKey: patch) {
                    spans.append(TransitionSpan(patch: patch, start: start, end: record.timestamp))
                }
            }
        }
        return spans
    }

    enum Event { case initializing, complete }

    /// `livepatch: 'NAME': initializing patching transition` → (NAME, .initializing).
    static func parse(_ message: String) -> (String, Event)? {
        let prefix = "livepatch: '"
        guard message.hasPrefix(prefix) else { return nil }
        let rest = message.dropFirst(prefix.count)
        guard let quote = rest.firstIndex(of: "'") else { return nil }
        let patch = String(rest[..<quote])
        let tail = rest[quote...]
        if tail.hasPrefix("': initializing ") && tail.hasSuffix(" transition") { return (patch, .initializing) }
        if tail == "': patching complete" || tail == "': unpatching complete" { return (patch, .complete) }
        return nil
    }
}

extension Array where Element == TransitionSpan {
    public var totalDuration: Duration { reduce(.zero) { $0 + $1.duration } }
}
