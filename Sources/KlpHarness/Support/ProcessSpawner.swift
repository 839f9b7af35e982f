#if canImport(Glibc)
import Glibc
#endif

/// Starts a program with posix_spawn and waits for it with a bound: the
/// one way the guest side (LAVA's helpers, a scenario's `spawn`) starts
/// processes.
///
/// posix_spawn, not Foundation's Process: in the LAVA guest (busybox, no
/// /etc beyond login's files) Process printed "Could not create wakeup
/// socket pair for CFSocket!!!" on its first launch and hung on its second,
/// which stalled a real job after two test cases.
///
/// The host's tools (apt, make, QEMU) still go through `Subprocess`, on
/// Foundation's Process: they need a working directory and every other
/// descriptor closed in the child (so that one QEMU does not hold another
/// run's pipe open), and glibc's posix_spawn_file_actions_addchdir_np and
/// _addclosefrom_np are not imported by Swift's Glibc module.
public struct ProcessSpawner: Sendable {
    /// Where a standard descriptor of the child goes.
    public enum Stream: Sendable {
        /// The runner's own (the LAVA helpers' signal lines must land on
        /// the test shell's console in order with the KTAP around them).
        case inherit
        /// /dev/null: a background load must not read the runner's input
        /// or write into its KTAP stream.
        case null
    }

    public var path: String
    public var arguments: [String]
    public var standardInput = Stream.inherit
    public var standardOutput = Stream.inherit
    /// The signals the runner handles (Interruption.handled) back to their
    /// default action and an empty mask, so the child dies of SIGTERM as a
    /// program normally does instead of inheriting the runner's handling.
    public var defaultSignals = true

    public init(_ path: String, _ arguments: [String] = []) {
        self.path = path
        self.arguments = arguments
    }

    /// Starts one copy; the error names the program and errno.
    public func start() throws(KernelFileError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if standardInput == .null { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        if standardOutput == .null { posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if defaultSignals {
            var defaults = sigset_t(), empty = sigset_t()
            sigemptyset(&defaults)
            sigemptyset(&empty)
            for signo in Interruption.handled { sigaddset(&defaults, signo) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setsigmask(&attributes, &empty)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard status == 0 else {
            throw KernelFileError(path: path, operation: "start", errno: ErrnoDescription(status))
        }
        return pid
    }

    /// Starts the program and waits for it to exit, polling within
    /// `limit`; past it the program is killed and reaped, and the error
    /// says what was waited for. Returns the exit code (128 + the signal
    /// for a program a signal ended, as a shell reports it).
    public func run(limit: Duration) throws -> Int32 {
        let pid = try start()
        var status: Int32 = 0
        do {
            try Deadline(after: limit).wait(for: "\(path) to exit", every: .milliseconds(5)) {
                waitpid(pid, &status, WNOHANG) == pid
            }
        } catch {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            throw HarnessError.infrastructure("\(error); it was killed")
        }
        return Self.exitCode(status)
    }

    /// WIFEXITED / WEXITSTATUS and WTERMSIG, which Swift does not import
    /// from the macros.
    static func exitCode(_ status: Int32) -> Int32 {
        status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }
}
