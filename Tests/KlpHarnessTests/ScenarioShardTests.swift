import Testing
@testable import KlpHarness

/// `--shard I/N` lets N machines split the suite between them.
@Suite("Sharding: the union of the shards is the suite")
struct ScenarioShardTests {
    static func suite() throws -> ScenarioSuite {
        ScenarioSuite(scenarios: try Repository.scenarioFiles().map { try Repository.scenario($0.lastPathComponent) })
    }

    @Test("shards of the shipped suite", arguments: 1...12)
    func shardsPartitionTheSuite(count: Int) throws {
        let suite = try Self.suite()
        let shards = try (1...count).map { try suite.shard($0, of: count).scenarios.map(\.name) }
        let all = shards.flatMap { $0 }
        // Every scenario exactly once: the union is the suite, and the shards are disjoint.
        #expect(all.sorted() == suite.scenarios.map(\.name).sorted())
        #expect(Set(all).count == all.count)
        // Balanced: shard sizes differ by at most one.
        let sizes = shards.map(\.count)
        #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1)
        // Each shard keeps suite order.
        let order = suite.scenarios.map(\.name)
        for shard in shards {
            #expect(shard == order.filter { shard.contains($0) })
        }
    }

    @Test func theFirstOfThreeTakesEveryThirdFromTheFirst() throws {
        let callbacks = ScenarioSuite(scenarios: try Repository.callbackScenarioFiles().map { try Repository.scenario($0.lastPathComponent) })
        let names = try callbacks.shard(1, of: 3).scenarios.map(\.name)
        #expect(names == ["target-module-before-livepatch", "module-coming-and-going-notifiers",
                          "module-coming-pre-patch-callback-enodev", "multiple-livepatches"])
    }

    @Test("invalid shards", arguments: [(0, 3), (4, 3), (1, 0)])
    func invalid(index: Int, count: Int) throws {
        #expect(throws: HarnessError.self) { try Self.suite().shard(index, of: count) }
    }
}
