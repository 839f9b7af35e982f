import Foundation
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

/// Real boots of `vm --explore 6 --seed 1 --crash-in-sequence 3` on 6.1
/// (Fixtures/boots/explore-crash-6.1, README there), replayed through
/// `ExploreBoot.explore` as `GuestMachine` delivered them.
@Suite("Explore: a recorded crash replayed")
struct ExploreCrashReplayTests {
    /// Hands out recorded boots in order and keeps what each was asked.
    final class Guest: GuestBooting {
        let release = "6.1.0-57-amd64"
        let folder: ResultsFolder
        let wallClock = Deadline(after: .seconds(3600))
        let log: (String) -> Void = { _ in }
        let firstQemuComplaint: String? = nil
        var recordings: [BootRecording]
        var asked: [(arguments: [String], files: [(name: String, text: String)])] = []

        init(folder: ResultsFolder, recordings: [BootRecording]) {
            self.folder = folder
            self.recordings = recordings
        }

        func boot(arguments: [String], files: [(name: String, text: String)], stopWhen: (@Sendable () -> Bool)?,
                  onLine: (String) -> Void) throws -> GuestMachine.Boot {
            asked.append((arguments, files))
            guard !recordings.isEmpty else { throw HarnessError.infrastructure("no recorded boot left") }
            return GuestMachine.replay(recordings.removeFirst(), release: release, log: log, onLine: onLine)
        }
    }

    static func recordings() throws -> [BootRecording] {
        let folder = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/boots/explore-crash-6.1").path
        return try (1...5).map { index in try #require(try BootRecording.read(from: folder, index: index)) }
    }

    static var options: KernelMatrix.ExploreOptions {
        var options = KernelMatrix.ExploreOptions(count: 6, seed: 1)
        options.crashInSequence = 3
        return options
    }

    @Test("the crash is its sequence's, the next boot goes on from 4, the shrink ends at the crash load")
    func crashedRunGoesOn() throws {
        let folder = try ReplayedGuest.makeFolder()
        let guest = Guest(folder: folder, recordings: try Self.recordings())
        var stdout: [String] = []
        let result = try ExploreBoot(machine: guest, emit: { stdout.append($0) }).explore(Self.options)
        #expect(result.status == .failed)
        #expect(result.infrastructureError == nil)
        let document = try #require(result.document)
        #expect(document.sequences.map(\.number) == [1, 2, 3, 4, 5, 6])
        #expect(document.sequences.map(\.status) == ["pass", "pass", "crash", "pass", "pass", "pass"])
        #expect(document.complete)
        #expect(document.sequences[2].crash?.first == "BUG: kernel NULL pointer dereference, address: 0000000000000000")
        #expect(document.sequences[2].crash?.contains { $0.contains("RIP: 0010:pre_patch_callback") } == true)
        // Sequences 1 and 2 came back from the crashed boot's KTAP alone.
        #expect(document.sequences[0].body == Explorer.generatedBody(seed: 1, number: 1, model: CallbackModel()))

        // The second boot starts at 4; each round runs only its batch.
        #expect(guest.asked.count == 5)
        #expect(guest.asked[0].arguments.contains("--crash-in-sequence") && !guest.asked[0].arguments.contains("--first"))
        #expect(guest.asked[1].arguments.suffix(2) == ["--first", "4"])
        for round in guest.asked[2...] {
            #expect(round.arguments.contains("--sequences") && round.arguments.suffix(2) == ["--shrink-limit", "0"])
            #expect(round.files.map(\.name) == ["sequences.json"])
        }
        let firstBatch = try JSONDecoder().decode([[ExploreAction]].self, from: Data(try #require(guest.asked[2].files.first).text.utf8))
        #expect(firstBatch == SequenceShrinker(model: CallbackModel()).candidates(of: document.sequences[2].body))

        let mismatch = try #require(document.mismatches.first)
        #expect(mismatch.kind == "crash")
        #expect(mismatch.shrunk == [.loadCrashModule])
        #expect(mismatch.files == ["explore/seed1-sequence3.scenario", "explore/seed1-sequence3.crash.txt"])
        let scenario = try String(contentsOfFile: "\(folder.root)/explore/seed1-sequence3.scenario", encoding: .utf8)
        #expect(scenario.hasPrefix("# Crashed the kernel (6.1.0-57-amd64)."))
        #expect(scenario.hasSuffix("% insmod livepatch-callbacks-crash.ko crash=oops\n"))

        // One KTAP stream, its run lines once.
        #expect(stdout.filter { $0 == "KTAP version 1" }.count == 1)
        #expect(stdout.filter { $0.hasPrefix("1..") } == ["1..6"])
        #expect(stdout.filter { $0.hasPrefix("ok ") || $0.hasPrefix("not ok ") }
            == ["ok 1 sequence-1", "ok 2 sequence-2", "not ok 3 sequence-3", "ok 4 sequence-4", "ok 5 sequence-5", "ok 6 sequence-6"])
        #expect(stdout.filter { $0.hasPrefix("# Totals: ") } == ["# Totals: pass:5 fail:1 xfail:0 xpass:0 skip:0 error:0"])
        #expect(stdout.last == "5 passed, 1 failed")
        // The explore.json on disk is the merged one, not the second boot's.
        let onDisk = try JSONDecoder().decode(ExploreDocument.self, from: Data(try FileBytes.read("\(folder.root)/explore/explore.json")))
        #expect(onDisk.sequences.count == 6)
    }

    @Test("a boot after the crash that never comes up is still an infrastructure error, beside the crash")
    func laterBootFails() throws {
        let folder = try ReplayedGuest.makeFolder()
        let recordings = try Self.recordings()
        let dead = BootRecording(ttyS1: [], channel: [], console: [], qemuStatus: 1)
        let guest = Guest(folder: folder, recordings: [recordings[0], dead] + recordings[2...])
        let result = try ExploreBoot(machine: guest, emit: { _ in }).explore(Self.options)
        #expect(result.status == .failed)
        #expect(result.infrastructureError?.contains("without the explorer's exit status") == true)
        let document = try #require(result.document)
        #expect(document.sequences.map(\.status) == ["pass", "pass", "crash"])
        #expect(!document.complete)
        #expect(document.mismatches.first?.shrunk == [.loadCrashModule])
    }

    @Test("a later boot that crashes before its first verdict blames its first sequence")
    func laterBootCrashesAtOnce() throws {
        let folder = try ReplayedGuest.makeFolder()
        let recordings = try Self.recordings()
        // The first boot's crash again, but before any result line.
        var early = recordings[0]
        early.ttyS1.removeAll { $0.hasPrefix("ok ") }
        // Crash in 3, then in 4 (the last); 3 shrinks in three rounds, and
        // 4's first round does not crash (the recorded boot that ran 4 to 6).
        let guest = Guest(folder: folder, recordings: [recordings[0], early] + recordings[2...] + [recordings[1]])
        var options = Self.options
        options.count = 4
        let result = try ExploreBoot(machine: guest, emit: { _ in }).explore(options)
        let document = try #require(result.document)
        #expect(document.sequences.map(\.number) == [1, 2, 3, 4])
        #expect(document.sequences.map(\.status) == ["pass", "pass", "crash", "crash"])
        #expect(guest.asked[1].arguments.suffix(2) == ["--first", "4"])
        #expect(document.mismatches.map(\.sequence) == [3, 4])
        #expect(document.mismatches.allSatisfy { $0.kind == "crash" })
    }

    @Test("without a crash: one boot, the guest's own stream and document")
    func noCrashIsOneBoot() throws {
        let folder = try ReplayedGuest.makeFolder()
        // The second recorded boot ran 4 to 6 and exited; replayed alone it
        // is a run without a crash.
        let guest = Guest(folder: folder, recordings: [try Self.recordings()[1]])
        var stdout: [String] = []
        let result = try ExploreBoot(machine: guest, emit: { stdout.append($0) }).explore(Self.options)
        #expect(guest.asked.count == 1)
        #expect(result.status == .passed)
        #expect(stdout.first == "KTAP version 1")
        #expect(result.document?.sequences.map(\.number) == [4, 5, 6])
    }
}
