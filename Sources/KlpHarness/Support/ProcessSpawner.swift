#if canImport(Glibc)
import Glibc
#endif

/// Starts a program with posix_spawn: the one way the harness starts
/// processes, on the host (Subprocess: apt, make, QEMU) and in the guest
/// (LAVA's helpers, a scenario's `spawn`).
///
/// posix_spawn, not Foundation's Process: in the LAVA guest (busybox, no
/// /etc beyond login's files) Process printed "Could not create wakeup
/// socket pair for CFSocket!!!" on its first launch and hung on its second,
/// which stalled a real job after two test cases.
public struct ProcessSpawner: Sendable {
    /// Where a standard descriptor of the child goes.
    public enum Stream: Equatable, Sendable {
        /// The runner's own (the LAVA helpers' signal lines must land on
        /// the test shell's console in order with the KTAP around them).
        case inherit
        /// /dev/null: a background load must not read the runner's input
        /// or write into its KTAP stream.
        case null
        /// One of the caller's descriptors (a pipe's end, a log file).
        case descriptor(Int32)
    }

    public var path: String
    public var arguments: [String]
    public var standardInput = Stream.inherit
    public var standardOutput = Stream.inherit
    public var standardError = Stream.inherit
    /// nil: the runner's working directory.
    public var workingDirectory: String?
    /// nil: the runner's environment.
    public var environment: [String: String]?
    /// A process group of its own, led by the child: a tool's whole tree
    /// can then be killed (vng's QEMU, when vng dies first, is no longer
    /// its descendant but still in its group).
    public var ownProcessGroup = false
    /// The signals the runner handles (Interruption.handled) back to their
    /// default action and an empty mask, so the child dies of SIGTERM as a
    /// program normally does instead of inheriting the runner's handling.
    public var defaultSignals = true

    public init(_ path: String, _ arguments: [String] = []) {
        self.path = path
        self.arguments = arguments
    }

    /// Starts one copy; the error names the program and errno. Every
    /// descriptor above 2 is closed in the child: a QEMU must not hold
    /// another run's pipe (its reader would never see the end) or lock.
    public func start() throws(KernelFileError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, stream) in [(Int32(0), standardInput), (1, standardOutput), (2, standardError)] {
            switch stream {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .descriptor(let source): posix_spawn_file_actions_adddup2(&actions, source, target)
            }
        }
        if let workingDirectory {
            guard let addchdir = Self.addchdir else {
                throw KernelFileError(path: workingDirectory, operation: "start \(path) in", errno: ErrnoDescription(ENOSYS))
            }
            _ = workingDirectory.withCString { addchdir(&actions, $0) }
        }
        _ = Self.addclosefrom?(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags: Int32 = 0
        if defaultSignals {
            var defaults = sigset_t(), empty = sigset_t()
            sigemptyset(&defaults)
            sigemptyset(&empty)
            for signo in Interruption.handled { sigaddset(&defaults, signo) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setsigmask(&attributes, &empty)
            flags |= Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        }
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { envp?.forEach { free($0) } }
        var pid: pid_t = 0
        let status = envp.map { posix_spawn(&pid, path, &actions, &attributes, argv, $0) }
            ?? posix_spawn(&pid, path, &actions, &attributes, argv, environ)
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

    /// Waits for a started child without a bound of its own (the caller's
    /// Watchdog kills it past its deadline); returns its exit code.
    static func reap(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return exitCode(status)
    }

    /// WIFEXITED / WEXITSTATUS and WTERMSIG, which Swift does not import
    /// from the macros.
    static func exitCode(_ status: Int32) -> Int32 {
        status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    // glibc's posix_spawn_file_actions_addchdir_np (2.29) and
    // _addclosefrom_np (2.34) are GNU extensions that Swift's Glibc module
    // does not import; they are looked up once by name.
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addchdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")
    private static let addclosefrom: AddClosefrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

    private static func symbol<Function>(_ name: String) -> Function? {
        // RTLD_DEFAULT, glibc's ((void *) 0): the libraries already loaded.
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(address, to: Function.self)
    }
}
