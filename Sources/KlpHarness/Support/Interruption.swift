import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The signal that asked the run to stop, 0 while none has. Set from a
/// signal handler, read by every wait, so a run stops at the next poll and
/// still cleans up the kernel before it exits.
private let pendingSignal = Atomic<Int32>(0)

public enum Interruption {
    /// Installs SIGINT/SIGTERM handlers. The first signal is the one that
    /// counts; a second SIGINT kills the process the ordinary way, for a user
    /// who really wants out.
    public static func install() {
        for signo in [SIGINT, SIGTERM] {
            Glibc.signal(signo) { received in
                // GNU timeout signals the process and then its group, and
                // kselftest nests two timeouts: one expiry can deliver SIGTERM
                // up to four times. Only a repeated SIGINT (a user pressing
                // Ctrl-C again) gets out without cleaning up.
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

    public static var exitStatus: ExitStatus {
        signal == SIGTERM ? .interruptedByTerm : .interruptedByInt
    }

    public static var signalName: String { signal == SIGTERM ? "SIGTERM" : "SIGINT" }
}
