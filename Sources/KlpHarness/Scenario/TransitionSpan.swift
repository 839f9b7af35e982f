/// A livepatch transition as the kernel's own timestamps show it: from
/// `'P': initializing (un)patching transition` to `'P': (un)patching complete`.
/// A transition that is reversed or cancelled is one span until it completes.
public struct TransitionSpan: Equatable, Sendable {
    public var patch: String
    public var start: UInt64
    public var end: UInt64

    public var duration: Duration { .microseconds(Int64(end) - Int64(start)) }

    /// A transition that began and had not completed by the last record (a
    /// stall, a timeout): the timeline draws it open to the end of the log.
    public struct Unfinished: Equatable, Sendable {
        public var patch: String
        /// The kernel timestamp of its `initializing` line.
        public var start: UInt64
    }

    /// The transitions that completed in `records`.
    public static func spans(in records: [KmsgRecord]) -> [TransitionSpan] {
        transitions(in: records).finished
    }

    /// Every transition in `records`, in one pass: those that completed as
    /// spans, in the order they completed, and those still open at the last
    /// record, in the order they began.
    public static func transitions(in records: [KmsgRecord]) -> (finished: [TransitionSpan], unfinished: [Unfinished]) {
        var open: [Unfinished] = []
        var spans: [TransitionSpan] = []
        for record in records where record.isFromKernel {
            guard let (patch, event) = parse(record.message) else { continue }
            switch event {
            case .initializing:
                if !open.contains(where: { $0.patch == patch }) { open.append(Unfinished(patch: patch, start: record.timestamp)) }
            case .complete:
                if let index = open.firstIndex(where: { $0.patch == patch }) {
                    spans.append(TransitionSpan(patch: patch, start: open.remove(at: index).start, end: record.timestamp))
                }
            }
        }
        return (spans, open)
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
