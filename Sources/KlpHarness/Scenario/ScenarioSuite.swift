#if canImport(Glibc)
import Glibc
#endif

/// The scenarios of a directory, in file-name order, optionally filtered.
public struct ScenarioSuite: Sendable {
    /// A scenario is a page of transcript; anything near this size is not one.
    public static let maximumFileSize = 1 << 20

    public var scenarios: [Scenario]

    public init(scenarios: [Scenario]) { self.scenarios = scenarios }

    /// Parses every `*.scenario` file; any parse error stops the run before
    /// the kernel is touched.
    public static func load(directory: String) throws -> ScenarioSuite {
        guard KernelFile.exists(directory) else {
            throw HarnessError.badInput("scenario directory \(directory) does not exist",
                                        remedy: "pass the repository's scenarios/ folder with --scenarios")
        }
        let files = try KernelFile.listDirectory(directory).filter { $0.hasSuffix(".scenario") }
        guard !files.isEmpty else {
            throw HarnessError.badInput("no *.scenario files in \(directory)", remedy: "pass the repository's scenarios/ folder with --scenarios")
        }
        var scenarios: [Scenario] = []
        for file in files {
            let path = "\(directory)/\(file)"
            do {
                scenarios.append(try ScenarioParser.parse(try readScenarioFile(path), path: path))
            } catch let error as ScenarioParseError {
                throw HarnessError.badInput("malformed scenario: \(error)", remedy: "fix the line; the format is described in docs/scenarios.md")
            }
        }
        for scenario in scenarios where !isScenarioName(scenario.name) {
            throw HarnessError.badInput("\(scenario.path) gives the scenario name '\(scenario.name)', which cannot name its results folder",
                                        remedy: "name scenario files NN-name.scenario, e.g. 12-my-case.scenario")
        }
        var seen: [String: String] = [:]
        for scenario in scenarios {
            if let other = seen.updateValue(scenario.path, forKey: scenario.name) {
                throw HarnessError.badInput("two scenarios are named \(scenario.name): \(other) and \(scenario.path)")
            }
        }
        return ScenarioSuite(scenarios: scenarios)
    }

    /// The scenarios a run covers: the directory, narrowed to `names` and
    /// to a shard.
    public static func select(directory: String, names: [String], shard: (index: Int, count: Int)?) throws -> ScenarioSuite {
        var suite = try load(directory: directory).filtered(names: names)
        if let shard { suite = try suite.shard(shard.index, of: shard.count) }
        return suite
    }

    /// Every `count`-th scenario starting at the `index`-th (1-based), so N
    /// machines running shards 1/N … N/N together run the whole suite once.
    public func shard(_ index: Int, of count: Int) throws -> ScenarioSuite {
        guard count >= 1, (1...count).contains(index) else {
            throw HarnessError.badInput("--shard \(index)/\(count) is not a shard: write I/N with 1 <= I <= N, e.g. 2/3")
        }
        return ScenarioSuite(scenarios: scenarios.enumerated().filter { $0.offset % count == index - 1 }.map(\.element))
    }

    /// Keeps the scenarios named in `names` (exact KTAP names), in suite
    /// order. An unknown name is an error listing the known ones.
    public func filtered(names: [String]) throws -> ScenarioSuite {
        guard !names.isEmpty else { return self }
        for name in names where !Self.isScenarioName(name) {
            throw HarnessError.badInput(
                "'\(name)' is not a scenario name",
                remedy: "name a scenario as its file name without number and extension, e.g. busy-target-module; known: \(scenarios.map(\.name).joined(separator: ", "))")
        }
        let known = Set(scenarios.map(\.name))
        for name in names where !known.contains(name) {
            throw HarnessError.badInput(
                "no scenario is named '\(name)'",
                remedy: "known scenarios: \(scenarios.map(\.name).joined(separator: ", "))")
        }
        let wanted = Set(names)
        return ScenarioSuite(scenarios: scenarios.filter { wanted.contains($0.name) })
    }
}

extension ScenarioSuite {
    /// A scenario name is one path component: its results folder is named
    /// after it. Empty, `.`, `..` or anything with a `/` is not one.
    static func isScenarioName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
    }

    /// The text of a scenario file, refusing what is not one before reading
    /// it whole: a FIFO or device (reading /dev/zero or a FIFO never ends),
    /// a file over `maximumFileSize`, or bytes that are not UTF-8.
    static func readScenarioFile(_ path: String) throws -> String {
        // O_NONBLOCK: opening a FIFO with no writer must not hang; fstat
        // then says what it is.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw HarnessError.badInput("cannot read scenario \(path): \(ErrnoDescription(errno))",
                                        remedy: "make it a readable file, or remove it from the scenario directory")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw HarnessError.badInput("cannot read scenario \(path): \(ErrnoDescription(errno))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw HarnessError.badInput("scenario \(path) is not a regular file",
                                        remedy: "scenarios are text files; remove it from the scenario directory")
        }
        guard info.st_size <= maximumFileSize else {
            throw HarnessError.badInput("scenario \(path) is \(info.st_size) bytes, over the \(maximumFileSize)-byte (1 MiB) limit",
                                        remedy: "a scenario is a short transcript; check that this is the file you meant")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count <= maximumFileSize {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw HarnessError.badInput("cannot read scenario \(path): \(ErrnoDescription(errno))")
            }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        guard bytes.count <= maximumFileSize else {
            throw HarnessError.badInput("scenario \(path) grew past the 1 MiB limit while being read")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw HarnessError.badInput("scenario \(path) is not valid UTF-8 text",
                                        remedy: "save it as UTF-8, or remove it from the scenario directory")
        }
        return text
    }
}
