import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// `results/<kernel release>/`: one folder per scenario with the expected
/// and actual transcripts, every kernel-log record of its window, and the
/// diff when it failed; plus the run's KTAP. A person can read it without
/// the harness, and CI can archive it.
public struct ResultsFolder: Sendable {
    public var root: String

    public init(root: String, release: String) { self.root = "\(root)/\(release)" }

    public func scenarioDirectory(_ name: String) -> String { "\(root)/\(name)" }

    public var ktapPath: String { "\(root)/ktap.txt" }

    public var jsonPath: String { "\(root)/results.json" }

    public var junitPath: String { "\(root)/junit.xml" }

    /// results.json and junit.xml together, so the two never disagree.
    public func write(_ document: ResultsDocument) throws {
        try document.write(to: jsonPath)
        try JUnitReport.write([document], to: junitPath)
    }

    /// The host's record of the VM console, written while the guest runs.
    public static let consoleLogName = "console.log"

    /// Creates the folder, removing what an earlier run left for the same
    /// kernel so nothing stale is mistaken for this run's output. The
    /// console log is kept: the host is writing it while the guest prepares.
    public func prepare() throws {
        try Self.makeDirectories(root)
        for entry in try KernelFile.listDirectory(root) where entry != Self.consoleLogName {
            try Self.removeTree("\(root)/\(entry)")
        }
    }

    public func write(_ result: ScenarioResult) throws {
        let directory = scenarioDirectory(result.scenario.name)
        try Self.makeDirectories(directory)
        try Self.writeLines(result.expected, to: "\(directory)/expected.txt")
        try Self.writeLines(result.actual, to: "\(directory)/actual.txt")
        try Self.writeLines(result.records.map(\.dmesgLine), to: "\(directory)/kmsg.txt")
        if !result.passed {
            var lines = result.diagnostics.map { "# \($0)" }
            lines += UnifiedDiff(expected: result.expected, actual: result.actual)
                .render(expectedLabel: "expected.txt", actualLabel: "actual.txt")
            try Self.writeLines(lines, to: "\(directory)/diff.txt")
        }
    }

    /// Opens a file for appending line by line (ktap.txt), so each line is
    /// on disk as soon as it is known and a killed run leaves what finished.
    public func appender(_ path: String) throws -> LineAppender {
        LineAppender(fd: try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .append],
                                                 permissions: [.ownerReadWrite, .groupRead, .otherRead]))
    }

    static func writeLines(_ lines: [String], to path: String) throws {
        try write(lines.map { $0 + "\n" }.joined(), to: path)
    }

    public static func write(_ text: String, to path: String) throws {
        let fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        defer { try? fd.close() }
        _ = try fd.writeAll(Array(text.utf8))
    }

    public static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/\(part)"
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw KernelFileError(path: current, operation: "create directory", errno: ErrnoDescription(errno))
            }
        }
    }

    /// rm -rf, without following symlinks out of the tree.
    static func removeTree(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in try KernelFile.listDirectory(path) { try removeTree("\(path)/\(name)") }
            if rmdir(path) != 0 { throw KernelFileError(path: path, operation: "remove", errno: ErrnoDescription(errno)) }
        } else if unlink(path) != 0 {
            throw KernelFileError(path: path, operation: "remove", errno: ErrnoDescription(errno))
        }
    }
}

public final class LineAppender {
    private let fd: FileDescriptor

    init(fd: FileDescriptor) { self.fd = fd }

    public func append(_ line: String) {
        _ = try? fd.writeAll(Array((line + "\n").utf8))
    }

    deinit { try? fd.close() }
}
