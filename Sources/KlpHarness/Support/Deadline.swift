#if canImport(Glibc)
import Glibc
#endif

/// A wait that ran out of time, naming what it was waiting for.
public struct WaitTimeout: Error, Equatable, Sendable, CustomStringConvertible {
    public var condition: String
    public var limit: Duration

    public var description: String {
        "timed out after \(limit.secondsText) waiting for \(condition)"
    }
}

/// A wait that was abandoned because the run was interrupted (SIGINT/SIGTERM).
public struct WaitInterrupted: Error, Equatable, Sendable {
    public var condition: String
}

/// A point in time after which waits give up. Every wait in the harness
/// polls a condition against one of these; none sleeps a fixed time.
public struct Deadline: Sendable {
    public let instant: ContinuousClock.Instant
    public let limit: Duration

    public init(after limit: Duration) {
        self.limit = limit
        self.instant = .now + limit
    }

    public var hasPassed: Bool { ContinuousClock.now >= instant }

    /// Polls `condition` every `interval` until it holds, the deadline passes
    /// or `isCancelled` says the run is being interrupted.
    public func wait(
        for condition: String,
        every interval: Duration = .milliseconds(2),
        isCancelled: () -> Bool = { false },
        until satisfied: () throws -> Bool
    ) throws {
        while true {
            if try satisfied() { return }
            if isCancelled() { throw WaitInterrupted(condition: condition) }
            if hasPassed { throw WaitTimeout(condition: condition, limit: limit) }
            Self.nap(interval)
        }
    }

    static func nap(_ interval: Duration) {
        let (seconds, attoseconds) = interval.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        _ = nanosleep(&request, nil)
    }
}

extension Duration {
    /// Seconds with millisecond precision, e.g. `1.234 s`.
    public var secondsText: String {
        let ms = (components.seconds * 1000) + components.attoseconds / 1_000_000_000_000_000
        return "\(ms / 1000).\(String(ms % 1000).leftPadded(to: 3, with: "0")) s"
    }

    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = " ") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }

    func rightPadded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
