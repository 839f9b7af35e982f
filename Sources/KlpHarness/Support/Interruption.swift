import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The signal that asked the run to stop, 0 while none has. Set from a
/// signal handler, read by every wait, so a run stops at the next poll and
/// still cleans up the kernel before it exits.
private let pendingSignal = Atomic<Int32>(0)

public enum Interruption {
    /// The signals that stop a run cleanly: SIGINT (Ctrl-C), SIGTERM
    /// (timeout(1), kselftest), SIGHUP (the terminal or SSH session went
    /// away) and SIGPIPE (whoever read stdout is gone). Each would otherwise
    /// kill the process with test modules loaded and dynamic debug left on.
    public static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGPIPE]

    /// Installs the handlers. The first signal is the one that counts; a
    /// second SIGINT kills the process the ordinary way, for a user who
    /// really wants out.
    public static func install() {
        for signo in handled {
            Glibc.signal(signo) { received in
                // GNU timeout signals the process and then its group, and
                // kselftest nests two timeouts: one expiry can deliver SIGTERM
                // up to four times; and every later write to a closed stdout
                // raises SIGPIPE again. Only a repeated SIGINT (a user
                // pressing Ctrl-C again) gets out without cleaning up.
                let first = pendingSignal.compareExchange(expected: 0, desired: received, ordering: .relaxed).exchanged
                if !first && received == SIGINT {
                    Glibc.signal(received, SIG_DFL)
                    raise(received)
                }
            }
        }
    }

    public static var signal: Int32 { pendingSignal.load(ordering: .relaxed) }

    public static var isRequested: Bool { signal != 0 }

    public static var exitStatus: ExitStatus { exitStatus(for: signal) }

    public static var signalName: String { name(of: signal) }

    /// 128 + the signal number, as a shell reports a process the signal killed.
    static func exitStatus(for signal: Int32) -> ExitStatus {
        switch signal {
        case SIGTERM: .interruptedByTerm
        case SIGHUP: .interruptedByHangup
        case SIGPIPE: .interruptedByBrokenPipe
        default: .interruptedByInt
        }
    }

    static func name(of signal: Int32) -> String {
        switch signal {
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        case SIGPIPE: "SIGPIPE"
        default: "SIGINT"
        }
    }
}
