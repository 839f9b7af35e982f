import Testing
@testable import KlpHarness

/// The host's side of surviving a kernel crash during `vm --explore`
/// (ExploreBoot.explore): the guest's next boot must run exactly the
/// seed's later sequences, the seeded crash must land where the kernel
/// really oopses, and the boots' documents and KTAP must add up to one run.
/// ExploreCrashTests (system) proves the whole in a VM.
@Suite("Explore: surviving a crash")
struct ExploreCrashRecoveryTests {
    @Test func generatedBodyIsTheSeedsSequence() {
        let model = CallbackModel()
        var generator = SequenceGenerator(seed: 1, model: model)
        let bodies = (1...12).map { _ in generator.next() }
        for number in 1...12 {
            #expect(Explorer.generatedBody(seed: 1, number: number, model: model) == bodies[number - 1])
        }
        // The seeded crash changes only its own sequence.
        #expect(Explorer.generatedBody(seed: 1, number: 4, model: model, crashInSequence: 3) == bodies[3])
    }

    /// __klp_enable_patch() refuses a patch with -EBUSY during another's
    /// transition, before the pre-patch callback that oopses: the load must
    /// come where no transition is in progress, and only once.
    @Test func seededCrashComesOnceWithNoTransition() throws {
        let model = CallbackModel()
        var generator = SequenceGenerator(seed: 1, model: model)
        for _ in 1...200 {
            let body = generator.next()
            let seeded = Explorer.seedingCrash(in: body, model: model)
            #expect(seeded.filter { $0 == .loadCrashModule }.count == 1)
            #expect(seeded.filter { $0 != .loadCrashModule } == body)
            let point = try #require(seeded.firstIndex(of: .loadCrashModule))
            var state = CallbackModel.State()
            for action in body[..<point] { _ = model.apply(action, to: &state) }
            #expect(state.transition == nil, "crash load at \(point) during a transition: \(body.map { $0.command() })")
            #expect(ExploreSequence(number: 1, body: seeded, model: model) != nil)
        }
    }

    @Test func crashLoadIsAScenarioLine() throws {
        let text = "% insmod livepatch-callbacks-crash.ko crash=oops\n"
        let scenario = try ScenarioParser.parse(text, path: "explore/crash.scenario")
        let step = try #require(scenario.steps.first)
        #expect(ExploreAction(step.action) == .loadCrashModule)
        #expect(ExploreAction.loadCrashModule.command() == "insmod livepatch-callbacks-crash.ko crash=oops")
    }

    @Test func laterBootsStartWhereTheCrashLeftOff() {
        var options = KernelMatrix.ExploreOptions(count: 6, seed: 1)
        options.crashInSequence = 3
        #expect(options.arguments() == ["explore", "--seed", "1", "--count", "6", "--timeout", "20", "--crash-in-sequence", "3"])
        #expect(options.arguments(first: 4).suffix(2) == ["--first", "4"])
        // A shrinking round runs the candidates it is given, nothing else.
        #expect(!options.arguments(sequencesFile: "s.json").contains("--crash-in-sequence"))
        #expect(!options.arguments(sequencesFile: "s.json").contains("--first"))
    }

    @Test func laterBootsDropTheRunsOwnLines() {
        for line in ["KTAP version 1", "1..6", "# explore: 3 sequence(s) in 4.0 s (45.0 per minute); 0 mismatch(es) with the model",
                     "# explore: kernel 6.1.0-57-amd64; seed 1; 6 sequence(s)", "# transitions: 3 in 0.4 s (0.133 s each)",
                     "# coverage: 10 of 19 rules", "# Totals: pass:3 fail:0 xfail:0 xpass:0 skip:0 error:0", "3 passed, 0 failed"] {
            #expect(ExploreBoot.isRunLine(line), "\(line)")
        }
        for line in ["ok 4 sequence-4", "not ok 5 sequence-5", "# sequence-5: 1.0 s wall", "#   % insmod livepatch-callbacks-mod.ko"] {
            #expect(!ExploreBoot.isRunLine(line), "\(line)")
        }
    }

    @Test func bootsMergeIntoOneDocument() {
        var a = ExploreDocument(kernel: "k", seed: 1, planned: 6, mutation: nil, recordOnly: false)
        a.sequences = [ExploreDocument.Sequence(number: 1, body: [.loadTarget], teardown: [.unload(.target)], status: "pass", seconds: 1)]
        a.rules = ["r1": 1]
        a.branches = ["b1": 2]
        a.pairs = ["p1"]
        a.seconds = 1
        a.transitions = 1
        var b = a
        b.sequences[0].number = 4
        b.rules = ["r1": 1, "r2": 3]
        b.branches = ["b2": 1]
        b.pairs = ["p2", "p1"]
        b.complete = true
        var whole: ExploreDocument?
        ExploreBoot.merge(a, into: &whole)
        ExploreBoot.merge(b, into: &whole)
        #expect(whole?.sequences.map(\.number) == [1, 4])
        #expect(whole?.rules == ["r1": 2, "r2": 3])
        #expect(whole?.branches == ["b1": 2, "b2": 1])
        #expect(whole?.pairs == ["p1", "p2"])
        #expect(whole?.seconds == 2)
        #expect(whole?.transitions == 2)
        #expect(whole?.complete == true)
    }
}
