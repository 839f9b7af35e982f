import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs host tools (apt, make, vng, qemu) with a wall-clock limit, started
/// by ProcessSpawner in a process group of their own. On expiry the whole
/// process tree is killed: vng's QEMU child must not outlive a hung guest.
public struct Subprocess {
    public struct Outcome: Sendable {
        public var status: Int32
        public var timedOut: Bool
        public var output: String
        /// Killed because the caller's `stopWhen` said so.
        public var stopped = false
    }

    public var executable: String
    public var arguments: [String]
    public var workingDirectory: String?
    public var environment: [String: String]?
    /// What the tool is doing, for "interrupted by SIGINT while <activity>";
    /// by default "running" and its command line.
    public var activity: String?
    /// Set for a tool that must not be killed halfway (apt-get install:
    /// dpkg interrupted mid-install leaves packages half-configured). An
    /// interruption then calls this once, to say why the run goes on, and
    /// the tool runs to its end or its own time limit; only then does
    /// `run` report the interruption.
    public var finishWhenInterrupted: (@Sendable () -> Void)?

    public init(_ executable: String, _ arguments: [String], workingDirectory: String? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.workingDirectory = workingDirectory
    }

    /// Runs to completion, collecting stdout and stderr together; or, with
    /// `stdoutPath`, writing stdout (binary) there and collecting stderr.
    public func run(timeout: Duration, stdinPath: String = "/dev/null", stdoutPath: String? = nil) throws -> Outcome {
        var collected = Data()
        let outcome: Outcome
        if let stdoutPath {
            _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
            guard let file = FileHandle(forWritingAtPath: stdoutPath) else {
                throw HarnessError.infrastructure("cannot write \(stdoutPath)")
            }
            defer { try? file.close() }
            outcome = try stream(timeout: timeout, stdinPath: stdinPath, stdout: file) { collected.append($0) }
        } else {
            outcome = try stream(timeout: timeout, stdinPath: stdinPath, stderrPath: nil) { collected.append($0) }
        }
        // The tool failed because the harness stopped it (or finished while
        // a stop was pending): its own exit status would blame the network,
        // xz or dpkg for what was a Ctrl-C.
        if Interruption.isRequested {
            let finished = finishWhenInterrupted != nil && !outcome.timedOut ? " (it was let run to its end: exit \(outcome.status))" : ""
            throw HarnessError(Interruption.exitStatus, "interrupted by \(Interruption.signalName) while \(description)\(finished)")
        }
        return Outcome(status: outcome.status, timedOut: outcome.timedOut,
                       output: String(decoding: collected, as: UTF8.self))
    }

    /// `activity`, or "running" and the command line (shortened).
    public var description: String {
        activity ?? "running \(([executable] + arguments).joined(separator: " ").prefix(200))"
    }

    /// Runs with stdin from `stdinPath` (/dev/null by default), handing
    /// stdout chunks to `onOutput` as they arrive; stderr goes to
    /// `stderrPath` (or into stdout if nil).
    public func stream(timeout: Duration, stdinPath: String = "/dev/null", stderrPath: String?,
                       stopWhen: (@Sendable () -> Bool)? = nil, onOutput: (Data) -> Void) throws -> Outcome {
        var stderr: FileHandle?
        if let stderrPath {
            _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
            stderr = FileHandle(forWritingAtPath: stderrPath)
        }
        defer { try? stderr?.close() }
        return try stream(timeout: timeout, stdinPath: stdinPath, stdout: nil, stderr: stderr, stopWhen: stopWhen, onOutput: onOutput)
    }

    /// The general form: stdout to `stdout` if given (then `onOutput` gets
    /// stderr), else to `onOutput` (with stderr too unless `stderr` is given).
    /// The process tree is killed when the limit passes or the harness is
    /// interrupted (SIGINT, SIGTERM, SIGHUP), so no QEMU outlives the run.
    func stream(timeout: Duration, stdinPath: String, stdout: FileHandle?, stderr: FileHandle? = nil,
                stopWhen: (@Sendable () -> Bool)? = nil, onOutput: (Data) -> Void) throws -> Outcome {
        let path = try Self.resolve(executable)
        // vng crashes on a closed stdin (it calls isatty on it); /dev/null works.
        let input = open(stdinPath, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw HarnessError.infrastructure("cannot read \(stdinPath): \(ErrnoDescription(errno))")
        }
        defer { close(input) }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw HarnessError.infrastructure("cannot make a pipe for \(executable): \(ErrnoDescription(errno))")
        }
        let (reading, writing) = (ends[0], ends[1])
        var spawner = ProcessSpawner(path, arguments)
        spawner.workingDirectory = workingDirectory
        spawner.environment = environment
        spawner.ownProcessGroup = true
        spawner.standardInput = .descriptor(input)
        if let stdout {
            spawner.standardOutput = .descriptor(stdout.fileDescriptor)
            spawner.standardError = .descriptor(writing)
        } else {
            spawner.standardOutput = .descriptor(writing)
            spawner.standardError = .descriptor(stderr?.fileDescriptor ?? writing)
        }
        let pid: pid_t
        do {
            pid = try spawner.start()
        } catch {
            close(reading)
            close(writing)
            throw HarnessError.infrastructure("cannot start \(executable): \(error)", remedy: "run scripts/setup")
        }
        // Only the child writes now: the reader sees the end when it exits.
        close(writing)
        defer { close(reading) }
        let expired = Watchdog(pid: pid, after: timeout, stopWhen: stopWhen, finishWhenInterrupted: finishWhenInterrupted)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(reading, &buffer, buffer.count)
            if count > 0 {
                onOutput(Data(buffer[0..<count]))
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        let status = ProcessSpawner.reap(pid)
        expired.cancel()
        return Outcome(status: status, timedOut: expired.fired, output: "", stopped: expired.stopped)
    }

    public static func resolve(_ executable: String) throws -> String {
        if executable.contains("/") { return executable }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(executable)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw HarnessError.infrastructure("\(executable) is not installed or not on PATH", remedy: "run scripts/setup")
    }
}

/// Kills a process and all its descendants once a deadline passes or the
/// harness is asked to stop.
final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var _fired = false
    private var _stopped = false
    private var cancelled = false

    /// `pid` leads its own process group (checked right after it started,
    /// so a reused pid can never make the group kill hit someone else).
    /// With `finishWhenInterrupted`, an interruption does not kill: it is
    /// announced once and the deadline alone ends the wait.
    init(pid: Int32, after limit: Duration, stopWhen: (@Sendable () -> Bool)? = nil,
         finishWhenInterrupted: (@Sendable () -> Void)? = nil) {
        let leadsGroup = getpgid(pid) == pid
        let thread = Thread { [self] in
            let deadline = Deadline(after: limit)
            var stop = false
            var announced = false
            while !deadline.hasPassed && !stop {
                if lock.withLock({ cancelled }) { return }
                if Interruption.isRequested {
                    guard let finishWhenInterrupted else { break }
                    if !announced {
                        announced = true
                        finishWhenInterrupted()
                    }
                }
                Deadline.nap(.milliseconds(50))
                stop = stopWhen?() ?? false
            }
            // An interruption is not a time-out: the caller reads Interruption.
            if stop {
                lock.withLock { _stopped = true }
            } else if deadline.hasPassed {
                lock.withLock { _fired = true }
            }
            ProcessTree.kill(root: pid, killGroup: leadsGroup)
        }
        thread.start()
    }

    var fired: Bool { lock.withLock { _fired } }

    var stopped: Bool { lock.withLock { _stopped } }

    func cancel() { lock.withLock { cancelled = true } }
}

enum ProcessTree {
    /// SIGKILLs `root` and every descendant found through /proc/*/stat.
    static func kill(root: Int32, killGroup: Bool) {
        var children: [Int32: [Int32]] = [:]
        for entry in (try? KernelFile.listDirectory("/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = try? KernelFile.read("/proc/\(entry)/stat"),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { children[parent, default: []].append(pid) }
        }
        var queue = [root]
        var all: [Int32] = []
        while let pid = queue.popLast() {
            all.append(pid)
            queue += children[pid] ?? []
        }
        for pid in all.reversed() { Glibc.kill(pid, SIGKILL) }
        // Each tool starts in a process group of its own
        // (ProcessSpawner.ownProcessGroup): a grandchild that its parent
        // left behind (vng's QEMU, when vng dies first) is no longer a
        // descendant, but still in that group.
        if killGroup { Glibc.kill(-root, SIGKILL) }
    }
}
