import Testing
@testable import KlpHarness

@Suite("Generated sequences")
struct SequenceGeneratorTests {
    @Test func sameSeedSameSequences() {
        var first = SequenceGenerator(seed: 42, model: CallbackModel())
        var second = SequenceGenerator(seed: 42, model: CallbackModel())
        var other = SequenceGenerator(seed: 43, model: CallbackModel())
        let a = (0..<20).map { _ in first.next() }
        #expect(a == (0..<20).map { _ in second.next() })
        #expect(a != (0..<20).map { _ in other.next() })
    }

    @Test func everySequenceIsValidAndEndsClean() throws {
        let model = CallbackModel()
        var generator = SequenceGenerator(seed: 1, model: model)
        for number in 1...200 {
            let sequence = try #require(ExploreSequence(number: number, body: generator.next(), model: model))
            var state = CallbackModel.State()
            for action in sequence.actions { #expect(model.apply(action, to: &state) != nil) }
            #expect(state.isClean)
            // The file it becomes parses, and its steps map back to it.
            let scenario = try sequence.scenario(model: model, name: "sequence-\(number)")
            #expect(scenario.steps.compactMap { ExploreAction($0.action) } == sequence.actions)
        }
    }

    /// The figure the explorer's coverage goal rests on: 200 sequences of
    /// seed 1 reach every rule in the model (the kernel run then reports
    /// what it reached for real).
    @Test func seedOneReachesEveryRule() {
        let model = CallbackModel()
        var generator = SequenceGenerator(seed: 1, model: model)
        var rules: Set<ModelRule> = []
        var pairs: Set<String> = []
        var branches: Set<String> = []
        for number in 1...200 {
            guard let sequence = ExploreSequence(number: number, body: generator.next(), model: model) else { continue }
            let coverage = sequence.coverage(model: model)
            rules.formUnion(coverage.rules)
            pairs.formUnion(coverage.pairs)
            branches.formUnion(coverage.branches)
        }
        #expect(Set(ModelRule.allBranches).subtracting(branches).isEmpty, "never taken: \(Set(ModelRule.allBranches).subtracting(branches).sorted())")
        #expect(branches.isSubset(of: Set(ModelRule.allBranches)), "a branch the rules do not list: \(branches.subtracting(ModelRule.allBranches).sorted())")
        #expect(Set(ModelRule.allCases).subtracting(rules).isEmpty, "never reached: \(Set(ModelRule.allCases).subtracting(rules))")
        #expect(Set(ExploreCoverage.reachablePairs).subtracting(pairs).isEmpty, "never reached: \(Set(ExploreCoverage.reachablePairs).subtracting(pairs))")
    }
}

@Suite("Branch coverage")
struct BranchCoverageTests {
    /// coverage.txt lists each rule's branches and marks those never taken.
    @Test func reportShowsUntakenBranches() throws {
        let model = CallbackModel()
        var document = ExploreDocument(kernel: "k", seed: 1, planned: 1, mutation: nil, recordOnly: false)
        let sequence = try #require(ExploreSequence(number: 1, body: [.loadTarget, .loadDemo(prePatchFails: false)], model: model))
        let reached = sequence.coverage(model: model)
        #expect(reached.branches.contains(ModelRule.prePatchForLoadedObjects.branchName("module")))
        #expect(reached.branches.contains(ModelRule.comingModulePatched.branchName(TestModule.target.name)) == false)
        for branch in reached.branches { document.branches?[branch, default: 0] += 1 }
        let report = document.coverageReport
        let rule = try #require(report.firstIndex { $0.hasSuffix("\(ModelRule.comingModulePatched.rawValue): \(ModelRule.comingModulePatched.summary)") })
        #expect(report[rule + 1] == "NEVER      branch \(TestModule.target.name)")
        #expect(report.contains("    1      branch module"))
        #expect(document.missingBranches.contains(ModelRule.nopObjectsDuringReplace.branchName("reverting")))
        #expect(document.summary.contains { $0.contains("branches") && $0.contains("nop-objects-during-replace/reverting") })
    }
}

@Suite("Shrinking")
struct SequenceShrinkerTests {
    /// With an oracle that fails whenever a module comes mid-transition,
    /// the shrinker ends at the three actions that make that happen.
    @Test func shrinksToTheActionsThatMatter() throws {
        let model = CallbackModel()
        let body: [ExploreAction] = [
            .loadDemo2(replace: false), .loadBusyTarget(blocking: true), .loadDemo(prePatchFails: false),
            .disable(.demo2), .loadTarget, .unload(.target), .enable(.demo),
        ]
        func fails(_ body: [ExploreAction]) -> Bool {
            var state = CallbackModel.State()
            for action in body {
                guard let step = model.apply(action, to: &state) else { return false }
                if step.rules.contains(.comingModuleDuringTransition) { return true }
            }
            return false
        }
        #expect(fails(body))
        let (shrunk, tried) = SequenceShrinker(model: model).shrink(body) { batch in batch.firstIndex(where: fails) }
        #expect(shrunk == [.loadBusyTarget(blocking: true), .loadDemo(prePatchFails: false), .loadTarget])
        #expect(tried > 0)
    }
}

@Suite("Shrink candidates")
struct ShrinkCandidateTests {
    /// A one-action sequence has no smaller candidate: an empty body would
    /// be a scenario without actions.
    @Test func neverEmpty() {
        let shrinker = SequenceShrinker(model: CallbackModel())
        #expect(shrinker.candidates(of: [.loadDemo(prePatchFails: false)]).isEmpty)
        #expect(!shrinker.candidates(of: [.loadTarget, .loadDemo(prePatchFails: false)]).contains([]))
    }
}
