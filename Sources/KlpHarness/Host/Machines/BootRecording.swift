import Foundation

/// One boot as the host saw it: every ttyS1 line, the results channel's
/// bytes, this boot's part of the console, and how QEMU ended. With
/// `KLP_HARNESS_RECORD_BOOTS=DIR` in the environment, `GuestMachine` writes
/// each boot to `DIR/boot-N.{ttyS1,channel,console,qemu}`; the unit tests
/// replay such recordings of real boots through `GuestMachine.replay` (the
/// same line routing and channel parsing), as the kernel's kunit.py parses a
/// saved log instead of running a kernel
/// (Documentation/dev-tools/kunit/run_wrapper.rst, `parse`).
public struct BootRecording: Equatable, Sendable {
    public var ttyS1: [String]
    public var channel: [UInt8]
    public var console: [String]
    public var qemuStatus: Int32
    public var timedOut = false
    public var stopped = false

    public init(ttyS1: [String], channel: [UInt8], console: [String], qemuStatus: Int32,
                timedOut: Bool = false, stopped: Bool = false) {
        self.ttyS1 = ttyS1
        self.channel = channel
        self.console = console
        self.qemuStatus = qemuStatus
        self.timedOut = timedOut
        self.stopped = stopped
    }

    /// The environment variable that names the folder boots are recorded in.
    public static let environmentKey = "KLP_HARNESS_RECORD_BOOTS"

    static func lines(_ lines: [String]) -> [UInt8] { Array(lines.map { $0 + "\n" }.joined().utf8) }

    /// Writes the recording as boot-`index`.* in `folder`.
    public func write(to folder: String, index: Int) throws {
        try FileBytes.makeDirectories(folder)
        let base = "\(folder)/boot-\(index)"
        try FileBytes.write(Self.lines(ttyS1), to: "\(base).ttyS1")
        try FileBytes.write(channel, to: "\(base).channel")
        try FileBytes.write(Self.lines(console), to: "\(base).console")
        try FileBytes.write(Self.lines(["status \(qemuStatus)", "timedOut \(timedOut)", "stopped \(stopped)"]), to: "\(base).qemu")
    }

    /// Reads boot-`index`.* of `folder`, or nil when there is no such boot.
    public static func read(from folder: String, index: Int) throws -> BootRecording? {
        let base = "\(folder)/boot-\(index)"
        guard FileBytes.size("\(base).qemu") != nil else { return nil }
        func lines(_ suffix: String) throws -> [String] {
            var splitter = LineSplitter()
            return splitter.feed(Data(try FileBytes.read("\(base).\(suffix)"))) + splitter.finish()
        }
        var fields: [String: String] = [:]
        for line in try lines("qemu") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        guard let status = fields["status"].flatMap({ Int32($0) }) else {
            throw HarnessError.badInput("\(base).qemu has no 'status N' line")
        }
        return BootRecording(ttyS1: try lines("ttyS1"), channel: try FileBytes.read("\(base).channel"),
                             console: try lines("console"), qemuStatus: status,
                             timedOut: fields["timedOut"] == "true", stopped: fields["stopped"] == "true")
    }
}
