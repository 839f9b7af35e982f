#if canImport(Glibc)
import Glibc
#endif

/// Messages for people go to stderr; stdout carries KTAP only.
func printError(_ message: String) {
    let bytes = Array((message + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// KTAP lines are flushed one by one so a host streaming the guest's
/// output sees each scenario as it finishes.
func printLine(_ line: String) {
    print(line)
    fflush(nil)
}
