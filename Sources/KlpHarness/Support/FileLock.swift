import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive flock(2) on a lock file, held while this object lives.
/// Two `klp-harness vm` runs on one checkout share the kernel cache,
/// `.build/kmod`, `.build/guest` and `results/`: each takes the lock of what
/// it is about to write, and the second one waits, saying for what.
///
/// Why flock and not a pid file: the kernel drops the lock when the
/// descriptor closes, including when the process dies (even by SIGKILL), so
/// a killed run never leaves a stale lock behind; see flock(2). The holder
/// writes its pid and start time into the file only so that a waiter can
/// say who it waits for; the lock itself is the flock, not the contents.
///
/// I/O style: raw Glibc, because swift-system 1.8.1 does not wrap flock(2).
public final class FileLock {
    public let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Closing the descriptor releases the lock.
    deinit { close(fd) }

    /// Takes the lock at once, or returns nil when another open file
    /// description holds it (another process, or another open of this one).
    /// The file is created if needed, never through a symbolic link, and is
    /// closed on exec so no child (QEMU, make) keeps the lock alive.
    public static func attempt(_ path: String) throws -> FileLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw HarnessError.infrastructure("cannot open the lock file \(path): \(ErrnoDescription(errno))")
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            close(fd)
            if code == EWOULDBLOCK { return nil }
            throw HarnessError.infrastructure("cannot lock \(path): \(ErrnoDescription(code))")
        }
        let lock = FileLock(path: path, fd: fd)
        lock.recordHolder()
        return lock
    }

    /// Takes the lock of `what`, waiting while another run holds it: the
    /// wait is announced once through `log` (naming what is waited for and
    /// who holds it), polled every 100 ms, bounded by `bound`, and given up
    /// when the run is interrupted.
    public static func acquire(_ path: String, for what: String, bound: Duration,
                               log: (String) -> Void) throws -> FileLock {
        if let lock = try attempt(path) { return lock }
        let started = ContinuousClock.now
        log("waiting for \(what), in use by \(holder(of: path)) (lock \(path); at most \(bound.secondsText))")
        let deadline = Deadline(after: bound)
        while true {
            Deadline.nap(.milliseconds(100))
            if let lock = try attempt(path) {
                log("got \(what) after waiting \((ContinuousClock.now - started).secondsText)")
                return lock
            }
            if Interruption.isRequested {
                throw HarnessError(Interruption.exitStatus, "interrupted by \(Interruption.signalName) while waiting for \(what)")
            }
            if deadline.hasPassed {
                throw HarnessError.infrastructure(
                    "gave up after \(bound.secondsText) waiting for \(what), still in use by \(holder(of: path))",
                    remedy: "let that run finish or stop it; a run that dies releases its locks at once")
            }
        }
    }

    /// Who holds the lock, as the holder wrote it: "pid N (started …)".
    static func holder(of path: String) -> String {
        guard let text = try? KernelFile.read(path), let line = text.split(separator: "\n").first, !line.isEmpty else {
            return "another run"
        }
        return String(line)
    }

    /// Writes "pid N (started <UTC time>)" over the file's contents.
    private func recordHolder() {
        let text = Self.holderLine(pid: getpid(), started: Date())
        _ = ftruncate(fd, 0)
        _ = Array(text.utf8).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    static func holderLine(pid: Int32, started: Date) -> String {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime]
        return "pid \(pid) (started \(format.string(from: started)))\n"
    }
}
