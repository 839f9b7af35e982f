#if canImport(Glibc)
import Glibc
#endif

/// Runs one of LAVA's test shell helpers (lava-test-case, lava-test-raise)
/// with the test shell's own stdout and stderr, so its signal line lands on
/// the console in order with the KTAP around it.
///
/// posix_spawn, not Foundation's Process: in the LAVA guest (busybox, no
/// /etc beyond login's files) Process printed "Could not create wakeup
/// socket pair for CFSocket!!!" on its first launch and hung on its second,
/// which stalled a real job after two test cases. A helper is a few lines of
/// shell, so it gets a short bound and is killed past it.
public enum LavaHelper {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The helper's exit status.
    public static func run(_ path: String, _ arguments: [String], limit: Duration = .seconds(60)) throws(Failure) -> Int32 {
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, nil, nil, argv, environ)
        guard spawned == 0 else {
            throw Failure(description: "cannot start \(path): \(ErrnoDescription(spawned))")
        }
        var status: Int32 = 0
        do {
            try Deadline(after: limit).wait(for: "\(path) to exit", every: .milliseconds(5)) {
                waitpid(pid, &status, WNOHANG) == pid
            }
        } catch {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            throw Failure(description: "\(error); it was killed")
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import from the macros.
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }
}
