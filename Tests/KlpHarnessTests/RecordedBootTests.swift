import Foundation
import Testing
@testable import KlpHarness

/// Real boots replayed: `KLP_HARNESS_RECORD_BOOTS` recorded a 6.1 run of
/// three scenarios whose second oopses (the test-only crash module,
/// `crash=oops`), in two boots (Fixtures/boots/crash-6.1, README there).
/// Each test replays them through `GuestMachine.replay` and `SuiteBoots`, as
/// the kernel's kunit.py parses a saved log; the variants cut the recorded
/// bytes the way a lost port, a cut frame or a guest that never reports its
/// status would.
@Suite("Recorded boots replayed: a crash, a lost channel, a cut frame, no exit status")
struct RecordedBootTests {
    static let names = ["target-module-before-livepatch", "crash-in-pre-patch", "pre-patch-callback-enodev"]

    static func recordings() throws -> [BootRecording] {
        let folder = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/boots/crash-6.1").path
        return try (1...2).map { index in try #require(try BootRecording.read(from: folder, index: index)) }
    }

    /// Where each frame's `KLP-FILE ` header starts in a channel recording.
    static func frameStarts(_ channel: [UInt8]) -> [Int] {
        let tag = Array(ResultsChannel.tag.utf8)
        return channel.indices.filter { channel[$0...].starts(with: tag) }
    }

    struct Outcome {
        var result: SuiteBoots.Result
        var stdout: [String]
        var folder: ResultsFolder
    }

    func replay(_ recordings: [BootRecording]) throws -> Outcome {
        let folder = try ReplayedGuest.makeFolder()
        var stdout: [String] = []
        let run = SuiteBoots(machine: ReplayedGuest(folder: folder, boots: recordings.map { ($0, nil) }),
                             scenarios: Self.names.map(HermeticVerdictTests.scenario), scenarioTimeout: 60,
                             emit: { stdout.append($0) }, narrate: false)
        return Outcome(result: try run.run(), stdout: stdout, folder: folder)
    }

    @Test("the crash fails its scenario only; the second boot runs the rest, renumbered")
    func crashFailsItsScenario() throws {
        let outcome = try replay(try Self.recordings())
        #expect(outcome.result.status == .failed)
        #expect(outcome.result.boots == 2)
        #expect(outcome.result.document.complete)
        #expect(outcome.result.document.scenarios.map(\.status) == [.pass, .crash, .pass])
        #expect(outcome.result.document.scenarios.map(\.number) == [1, 2, 3])
        #expect(outcome.stdout.contains("# kernel crashed: BUG: kernel NULL pointer dereference, address: 0000000000000000"))
        #expect(outcome.stdout.contains("not ok 2 crash-in-pre-patch"))
        #expect(outcome.stdout.contains("ok 3 pre-patch-callback-enodev"))
        #expect(outcome.stdout.last == "2 passed, 1 failed")
        let diff = try String(contentsOfFile: "\(outcome.folder.root)/crash-in-pre-patch/diff.txt", encoding: .utf8)
        #expect(diff.contains("RIP: 0010:pre_patch_callback"))
    }

    @Test("the second boot's channel lost as a whole: no verdict")
    func lostChannel() throws {
        var recordings = try Self.recordings()
        recordings[1].channel = []
        let outcome = try replay(recordings)
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("the results channel has no exit status") == true)
    }

    @Test("the second boot's channel cut inside its last frame: no verdict")
    func cutFrame() throws {
        var recordings = try Self.recordings()
        // Cut in the middle of the frame before the init's exit status.
        let last = try #require(Self.frameStarts(recordings[1].channel).dropLast().last)
        recordings[1].channel = Array(recordings[1].channel[..<(last + 30)])
        let outcome = try replay(recordings)
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("ends in the middle of a frame") == true)
    }

    @Test("the second guest stops without an exit status on either port: no verdict")
    func noExitStatus() throws {
        var recordings = try Self.recordings()
        recordings[1].ttyS1.removeAll { $0.hasPrefix(GuestImage.exitPrefix) }
        let received = ResultsChannel.parse(recordings[1].channel)
        #expect(received.files[GuestImage.exitStatusFile] != nil)
        recordings[1].channel = Array(recordings[1].channel[..<(try #require(Self.frameStarts(recordings[1].channel).last))])
        let outcome = try replay(recordings)
        #expect(outcome.result.status == .infrastructure)
        #expect(outcome.result.infrastructureError?.contains("without the runner's exit status") == true)
        // Scenario 3 reported `ok` with its record before the guest went
        // quiet: its entry stands, but the run has no verdict.
        #expect(outcome.result.document.scenarios.map(\.status) == [.pass, .crash, .pass])
        #expect(!outcome.result.document.complete)
    }
}
