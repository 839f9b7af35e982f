import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// `results/<kernel release>/`: one folder per scenario with the expected
/// and actual transcripts, every kernel-log record of its window, and the
/// diff when it failed; plus the run's KTAP. A person can read it without
/// the harness, and CI can archive it.
public struct ResultsFolder: Sendable {
    /// The release folder, `<results root>/<release>`.
    public var root: String
    /// The results root the user named (`--results`).
    public var resultsRoot: String
    public var release: String

    public init(root: String, release: String) {
        self.resultsRoot = root
        self.release = release
        self.root = "\(root)/\(release)"
    }

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
        _ = try open()
    }

    /// Opens the results root and the release folder without following
    /// links (see DirectoryHandle for the rule), and clears the release
    /// folder as `prepare` does. Bad input (a link, a folder another user
    /// planted, one this user cannot write) throws exit 2.
    public func open() throws(HarnessError) -> OpenResultsFolder {
        do {
            return try openOrExplain()
        } catch {
            throw error.error
        }
    }

    /// `open`, saying whether a failure is a refusal or only a folder this
    /// user cannot write (which a skipped run may shrug off).
    public func openOrExplain() throws(ResultsFolderError) -> OpenResultsFolder {
        do {
            let rootDirectory = try DirectoryHandle.open(creating: resultsRoot)
            let directory = try rootDirectory.subdirectory(release)
            try directory.removeContents(except: [Self.consoleLogName])
            return OpenResultsFolder(folder: self, directory: directory)
        } catch let error as ResultsFolderError {
            throw error
        } catch {
            throw ResultsFolderError(refused: false, error: HarnessError.badInput(
                "cannot clear results folder \(root): \(error)",
                remedy: "pass --results a directory this user can write (nothing was loaded)"))
        }
    }

    public func write(_ result: ScenarioResult) throws {
        let directory = scenarioDirectory(result.scenario.name)
        try FileBytes.makeDirectories(directory)
        try FileBytes.writeLines(result.expected, to: "\(directory)/expected.txt")
        try FileBytes.writeLines(result.actual, to: "\(directory)/actual.txt")
        try FileBytes.writeLines(result.records.map(\.dmesgLine), to: "\(directory)/kmsg.txt")
        if !result.isSuccess {
            try FileBytes.writeLines(result.diffFileLines, to: "\(directory)/diff.txt")
        }
    }

    /// Opens a file for appending line by line (ktap.txt), so each line is
    /// on disk as soon as it is known and a killed run leaves what finished.
    public func appender(_ path: String) throws -> LineAppender {
        LineAppender(fd: try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .append],
                                                 permissions: [.ownerReadWrite, .groupRead, .otherRead]))
    }
}

public final class LineAppender {
    private let fd: FileDescriptor

    init(fd: FileDescriptor) { self.fd = fd }

    init(rawDescriptor: Int32) { self.fd = FileDescriptor(rawValue: rawDescriptor) }

    public func append(_ line: String) {
        _ = try? fd.writeAll(Array((line + "\n").utf8))
    }

    deinit { try? fd.close() }
}

/// The release folder of a run, open: every file the runner writes goes
/// through its descriptor, never through a path a link could redirect.
public final class OpenResultsFolder {
    public let folder: ResultsFolder
    let directory: DirectoryHandle

    init(folder: ResultsFolder, directory: DirectoryHandle) {
        self.folder = folder
        self.directory = directory
    }

    public static let ktapName = "ktap.txt"
    public static let jsonName = "results.json"
    public static let junitName = "junit.xml"

    /// ktap.txt, appended line by line.
    public func ktapAppender() throws -> LineAppender {
        try directory.appender(Self.ktapName)
    }

    /// results.json and junit.xml together, so the two never disagree.
    /// Returns the files written, relative to the release folder.
    @discardableResult
    public func write(_ document: ResultsDocument) throws -> [String] {
        try directory.writeAtomically(try document.encoded(), to: Self.jsonName)
        try directory.writeAtomically(JUnitReport.render([document]), to: Self.junitName)
        return [Self.jsonName, Self.junitName]
    }

    /// Writes `text` to `name` in the subfolder `subfolder` (created if
    /// need be) and returns its path relative to the release folder.
    @discardableResult
    public func write(_ text: String, to name: String, in subfolder: String) throws -> String {
        try directory.subdirectory(subfolder).writeAtomically(text, to: name)
        return "\(subfolder)/\(name)"
    }

    /// A scenario's folder. Returns the files written, relative to the
    /// release folder.
    @discardableResult
    public func write(_ result: ScenarioResult) throws -> [String] {
        let name = result.scenario.name
        let scenario = try directory.subdirectory(name)
        var files: [(String, [String])] = [
            ("expected.txt", result.expected),
            ("actual.txt", result.actual),
            ("kmsg.txt", result.records.map(\.dmesgLine)),
        ]
        if !result.isSuccess { files.append(("diff.txt", result.diffFileLines)) }
        for (file, lines) in files {
            try scenario.writeAtomically(lines.map { $0 + "\n" }.joined(), to: file)
        }
        return files.map { "\(name)/\($0.0)" }
    }
}
