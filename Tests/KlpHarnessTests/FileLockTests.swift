import Foundation
import Testing
@testable import KlpHarness

/// The lock two `klp-harness vm` runs on one checkout take on what they
/// share (the kernel cache, .build/kmod, .build/guest, results/<release>).
@Suite("FileLock: flock(2) between runs", .serialized)
struct FileLockTests {
    static func scratchPath() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("filelock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("6.1.0-57-amd64.lock").path
    }

    @Test func aSecondOpenCannotTakeItUntilTheFirstIsReleased() throws {
        let path = try Self.scratchPath()
        var first = try FileLock.attempt(path)
        #expect(first != nil)
        #expect(try FileLock.attempt(path) == nil)
        #expect(FileLock.holder(of: path).hasPrefix("pid \(getpid()) (started 20"))
        first = nil
        // Another test spawning a child at this moment holds a copy of the
        // descriptor (and so the flock) until the child's exec closes it
        // (O_CLOEXEC): take it with a short bounded wait, not one attempt.
        _ = try FileLock.acquire(path, for: "the released lock", bound: .seconds(5)) { _ in }
    }

    @Test func theWaitIsBoundedAndNamesWhatAndWhom() throws {
        let path = try Self.scratchPath()
        let held = try #require(try FileLock.attempt(path))
        let messages = Messages()
        let error = #expect(throws: HarnessError.self) {
            _ = try FileLock.acquire(path, for: "results/6.1.0-57-amd64", bound: .milliseconds(300)) { messages.add($0) }
        }
        withExtendedLifetime(held) {}
        #expect(error?.status == .infrastructure)
        #expect(error?.problem.hasPrefix("gave up after 0.300 s waiting for results/6.1.0-57-amd64, still in use by pid \(getpid())") == true)
        #expect(messages.all.count == 1)
        #expect(messages.all.first?.hasPrefix("waiting for results/6.1.0-57-amd64, in use by pid \(getpid()) (started ") == true)
    }

    /// The case that matters: another process holds the lock and dies
    /// (SIGKILL, no clean-up); the kernel releases it and the waiter goes on.
    @Test func aLockHeldByAnotherProcessIsFreedWhenItDies() throws {
        let path = try Self.scratchPath()
        // flock(1) -o: the lock stays with flock itself, not with sleep.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = ["-o", path, "sleep", "60"]
        try holder.run()
        defer { kill(-holder.processIdentifier, SIGKILL) }
        try Deadline(after: .seconds(10)).wait(for: "flock(1) to take \(path)", every: .milliseconds(20)) {
            try FileLock.attempt(path) == nil
        }
        let messages = Messages()
        let started = ContinuousClock.now
        let killer = Thread {
            Thread.sleep(forTimeInterval: 0.5)
            kill(-holder.processIdentifier, SIGKILL)
        }
        killer.start()
        let lock = try FileLock.acquire(path, for: "the kernel cache of 6.1.0-57-amd64", bound: .seconds(20)) { messages.add($0) }
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(400) && waited < .seconds(10))
        #expect(messages.all.first?.hasPrefix("waiting for the kernel cache of 6.1.0-57-amd64, in use by ") == true)
        #expect(messages.all.last?.hasPrefix("got the kernel cache of 6.1.0-57-amd64 after waiting ") == true)
        withExtendedLifetime(lock) {}
    }

    /// A terminal's Ctrl-C goes to its foreground process group: a tool the
    /// harness starts (apt-get install) must be in another group, so that
    /// only the harness sees SIGINT and decides what to stop.
    @Test func toolsRunInAProcessGroupOfTheirOwn() throws {
        let outcome = try Subprocess("sh", ["-c", "cut -d' ' -f5 /proc/$$/stat"]).run(timeout: .seconds(10))
        let group = try #require(Int32(outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(group != getpgrp())
    }
}

final class Messages: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func add(_ line: String) { lock.withLock { lines.append(line) } }

    var all: [String] { lock.withLock { lines } }
}
