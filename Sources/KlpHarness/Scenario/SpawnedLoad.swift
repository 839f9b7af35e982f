#if canImport(Glibc)
import Glibc
#endif

/// The processes a scenario's `spawn` started (the getpid hammers of
/// test-syscall.sh), so that `$PIDS` can name them, `kill` can end them and
/// the clean-up can end whatever is left on every path.
///
/// Started by ProcessSpawner (posix_spawn: Foundation's Process misbehaves
/// in a busybox guest). The children get the default action for every
/// signal the runner handles and no inherited stdin/stdout: they must not
/// read the runner's input or write into its KTAP stream.
public final class SpawnedLoad {
    public struct Process: Equatable, Sendable {
        public var program: String
        public var pid: pid_t
    }

    /// In spawn order: `$PIDS` lists them so.
    public private(set) var running: [Process] = []

    public init() {}

    /// `$PIDS`: every running process's pid, comma-separated, as
    /// module_param_array reads a list.
    public var pidList: String { running.map { String($0.pid) }.joined(separator: ",") }

    /// Replaces `$PIDS` in a module parameter.
    public func substitute(_ parameter: String) -> String {
        parameter.replacing("$PIDS", with: pidList)
    }

    /// Starts `count` copies of `path` with no arguments. On a failure the
    /// copies already started keep running (the clean-up ends them) and the
    /// error names the program and errno.
    public func spawn(_ count: Int, of path: String, program: String) throws(KernelFileError) {
        var spawner = ProcessSpawner(path)
        spawner.standardInput = .null
        spawner.standardOutput = .null
        for _ in 0..<count {
            running.append(Process(program: program, pid: try spawner.start()))
        }
    }

    /// SIGKILL to every running copy of `program` (all of them when nil),
    /// then waits for each to be reaped: SIGKILL cannot be caught, so the
    /// wait is short, but it still has a bound. Returns how many ended.
    @discardableResult
    public func kill(_ program: String? = nil, deadline: Deadline = Deadline(after: .seconds(10))) throws -> Int {
        let ending = running.filter { program == nil || $0.program == program }
        for process in ending { _ = Glibc.kill(process.pid, SIGKILL) }
        var left = Set(ending.map(\.pid))
        defer { running.removeAll { !left.contains($0.pid) && ending.contains($0) } }
        try deadline.wait(for: "\(ending.count) spawned \(program ?? "process")(es) to exit after SIGKILL", every: .milliseconds(1)) {
            for pid in left {
                var status: Int32 = 0
                let reaped = waitpid(pid, &status, WNOHANG)
                // ECHILD: not our child any more (someone else reaped it).
                if reaped == pid || (reaped < 0 && errno == ECHILD) { left.remove(pid) }
            }
            return left.isEmpty
        }
        return ending.count
    }

    /// The clean-up's part: ends every process still running, whatever
    /// happened to the scenario. One line per thing done; empty if none ran.
    public func endAll() -> [String] {
        guard !running.isEmpty else { return [] }
        let programs = Set(running.map(\.program)).sorted().joined(separator: ", ")
        do {
            let count = try kill()
            return ["killed and reaped \(count) spawned process(es) (\(programs))"]
        } catch {
            return ["failed: kill spawned processes (\(programs)): \(error); still running: \(pidList)"]
        }
    }
}
