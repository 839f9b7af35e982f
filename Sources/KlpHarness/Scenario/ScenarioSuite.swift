/// The scenarios of a directory, in file-name order, optionally filtered.
public struct ScenarioSuite: Sendable {
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
                scenarios.append(try ScenarioParser.parse(try KernelFile.read(path), path: path))
            } catch let error as ScenarioParseError {
                throw HarnessError.badInput("malformed scenario: \(error)", remedy: "fix the line; the format is described in README.md")
            }
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
