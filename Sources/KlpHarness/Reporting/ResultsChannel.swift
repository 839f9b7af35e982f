import Foundation
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// How the hermetic guest hands its results folder to the host: a serial
/// port that the host records into a file (QEMU `-serial file:`). It needs
/// no guest kernel module (Debian's kernels have the 8250 driver built in)
/// and nothing of the host's file system.
///
/// The stream is a sequence of frames, each `KLP-FILE <length> <path>\n`
/// followed by exactly `length` bytes. A file sent again replaces the
/// earlier copy, so the runner sends each scenario's files as soon as they
/// are written: a guest that crashes mid-suite has already delivered what
/// finished. A frame cut short by the crash is ignored; once the runner
/// has exited, one cut short is a lost tail, and the host's verdict is an
/// infrastructure error (SuiteBoots's Witnesses).
///
/// Results travel as data, never as documents to decode and rewrite: after
/// a scenario's files the runner sends its ScenarioRecord as
/// `records/<number>.json` (the same JSON as its `# klp-result` KTAP line),
/// and once the suite finished one `records/end.json` (`Completion`). The
/// host builds results.json and junit.xml from the records; the guest's
/// own copies of those never cross the channel. The init's last frame is
/// `exit-status` (GuestImage.exitStatusFile).
public enum ResultsChannel {
    static let tag = "KLP-FILE "

    /// The folder of the record frames: `records/<number>.json`.
    public static let recordsFolder = "records"
    /// The frame that says the runner finished the suite.
    public static let completionPath = "records/end.json"

    /// The frame path of the record of scenario `number` (of its boot).
    public static func recordPath(_ number: Int) -> String { "\(recordsFolder)/\(number).json" }

    /// What the runner says once its loop is over: whether it finished
    /// (false when a signal stopped it) and how many scenarios it planned.
    public struct Completion: Codable, Equatable, Sendable {
        public var complete: Bool
        public var planned: Int

        public init(complete: Bool, planned: Int) {
            self.complete = complete
            self.planned = planned
        }

        public func json() -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
        }
    }

    /// The guest side: writes frames to a character device (or a file).
    public final class Sender {
        private let fd: FileDescriptor
        public let path: String

        public init(path: String) throws(KernelFileError) {
            self.path = path
            do {
                fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [FileDescriptor.OpenOptions(rawValue: O_NOCTTY)])
            } catch {
                throw KernelFileError(path: path, operation: "open", errno: ErrnoDescription(error))
            }
            // A tty would translate "\n" to "\r\n" and eat control bytes:
            // raw mode passes the files through byte for byte.
            if isatty(fd.rawValue) == 1 {
                var settings = termios()
                tcgetattr(fd.rawValue, &settings)
                cfmakeraw(&settings)
                tcsetattr(fd.rawValue, TCSANOW, &settings)
            }
        }

        deinit { try? fd.close() }

        /// Waits until the serial port has sent everything written so far
        /// (tcdrain): a write returns once the bytes are in the tty's
        /// buffer, not on the wire.
        public func drain() throws(KernelFileError) {
            guard isatty(fd.rawValue) == 1 else { return }
            guard tcdrain(fd.rawValue) == 0 else {
                throw KernelFileError(path: path, operation: "drain", errno: ErrnoDescription(errno))
            }
        }

        /// Sends `relativePath` of `root` (as it is on disk now).
        public func send(_ relativePath: String, from root: String) throws {
            try send(try FileBytes.read("\(root)/\(relativePath)"), as: relativePath)
        }

        /// Sends `text` as the file `path` (a record, the completion).
        public func send(_ text: String, as path: String) throws {
            try send(Array(text.utf8), as: path)
        }

        func send(_ bytes: [UInt8], as relativePath: String) throws {
            do {
                _ = try fd.writeAll(Array("\(tag)\(bytes.count) \(relativePath)\n".utf8) + bytes)
            } catch {
                throw KernelFileError(path: path, operation: "write", errno: ErrnoDescription(error))
            }
        }
    }

    /// The largest frame the host accepts. A results folder is a few
    /// hundred KB; a length above this is a corrupt header, and trusting it
    /// would make the host wait for (or allocate) bytes that never come.
    public static let maximumFrameLength = 64 << 20

    /// What a recorded stream held: the last copy of each file, whether it
    /// ended in the middle of a frame, and the header of a frame whose
    /// length was beyond `maximumFrameLength` (the stream stops there).
    public struct Received: Equatable, Sendable {
        public var files: [String: [UInt8]] = [:]
        public var truncated = false
        public var order: [String] = []
        public var oversizedFrame: String?
        /// The bytes recorded, for messages.
        public var length = 0
    }

    /// Parses a recorded stream. Paths that could leave the results folder
    /// (absolute, `..`, empty components, unusual characters) are dropped.
    public static func parse(_ stream: [UInt8]) -> Received {
        var received = Received()
        received.length = stream.count
        var position = 0
        let tagBytes = Array(tag.utf8)
        while position < stream.count {
            guard let newline = stream[position...].firstIndex(of: UInt8(ascii: "\n")) else {
                received.truncated = true
                break
            }
            let header = stream[position..<newline]
            guard header.starts(with: tagBytes) else {
                // Not a frame start: noise before the runner opened the port.
                position = newline + 1
                continue
            }
            let fields = String(decoding: header.dropFirst(tagBytes.count), as: UTF8.self).split(separator: " ", maxSplits: 1)
            guard fields.count == 2, let length = Int(fields[0]), length >= 0 else {
                position = newline + 1
                continue
            }
            guard length <= maximumFrameLength else {
                received.oversizedFrame = String(decoding: header.prefix(200), as: UTF8.self)
                break
            }
            let start = newline + 1
            guard start + length <= stream.count else {
                received.truncated = true
                break
            }
            let path = String(fields[1])
            if isSafeRelativePath(path) {
                if received.files.updateValue(Array(stream[start..<(start + length)]), forKey: path) == nil {
                    received.order.append(path)
                }
            }
            position = start + length
        }
        return received
    }

    /// `scenario/kmsg.txt`, `results.json`: relative, no `.` or `..`
    /// components, and only the characters scenario and file names use.
    public static func isSafeRelativePath(_ path: String) -> Bool {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        return !components.isEmpty && components.allSatisfy { component in
            !component.isEmpty && component != "." && component != ".."
                && component.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._+-@".contains($0)) }
        }
    }
}
