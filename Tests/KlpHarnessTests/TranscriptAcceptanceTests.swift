import Foundation
import Testing
@testable import KlpHarness

/// `klp-harness accept`: a failed run's actual transcript written into the
/// scenario file, and every case it must refuse. The run is real output
/// (busy-target-module on 6.1) judged against a deliberately wrong line.
@Suite("Accepting an actual transcript into its scenario file")
struct TranscriptAcceptanceTests {
    static let release = "6.1.0-56-amd64"
    static let path = "scenarios/09-busy-target-module.scenario"

    var wrong: String { get throws { try Fixture.text("busy-target-module-wrong", "scenario") } }
    var right: String { get throws { try wrong.replacingOccurrences(of: " (deliberately wrong)", with: "") } }
    var actual: [String] { get throws { try Fixture.lines("busy-target-module-actual", "txt") } }

    func failedRun(_ status: ScenarioStatus = .fail, release: String = release) throws -> TranscriptAcceptance.Run {
        let expected = try ScenarioParser.parse(try wrong, path: Self.path).transcript(for: release)
        return TranscriptAcceptance.Run(release: release, status: status, expected: expected, actual: try actual)
    }

    func refusal(_ text: String, _ runs: [TranscriptAcceptance.Run]) -> String? {
        do {
            _ = try TranscriptAcceptance.accept(text, path: Self.path, runs: runs)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test func theActualTranscriptReplacesOnlyTheKernelLines() throws {
        let accepted = try TranscriptAcceptance.accept(try wrong, path: Self.path, runs: [try failedRun()])
        // Comments, actions and every other line as the file had them.
        #expect(accepted == (try right))
    }

    @Test func twoKernelsThatAgreeAreAcceptedTogether() throws {
        let accepted = try TranscriptAcceptance.accept(try wrong, path: Self.path,
                                                       runs: [try failedRun(), try failedRun(release: "6.12.117+deb12-amd64")])
        #expect(accepted == (try right))
    }

    @Test func commentsAndBlankLinesBetweenKernelLinesStay() throws {
        let text = "# header\n% insmod livepatch-callbacks-mod.ko\nold line\n\n# why the next action\n% rmmod livepatch_callbacks_mod\n"
        let expected = ["% insmod livepatch-callbacks-mod.ko", "old line", "% rmmod livepatch_callbacks_mod"]
        let actual = ["% insmod livepatch-callbacks-mod.ko", "livepatch_callbacks_mod: livepatch_callbacks_mod_init",
                      "% rmmod livepatch_callbacks_mod", "livepatch_callbacks_mod: livepatch_callbacks_mod_exit"]
        let run = TranscriptAcceptance.Run(release: Self.release, status: .fail, expected: expected, actual: actual)
        let accepted = try TranscriptAcceptance.accept(text, path: Self.path, runs: [run])
        #expect(accepted == "# header\n% insmod livepatch-callbacks-mod.ko\nlivepatch_callbacks_mod: livepatch_callbacks_mod_init\n\n# why the next action\n% rmmod livepatch_callbacks_mod\nlivepatch_callbacks_mod: livepatch_callbacks_mod_exit\n")
    }

    @Test func aPassIsNothingToAccept() throws {
        var run = try failedRun(.pass)
        run.expected = try actual
        #expect(try TranscriptAcceptance.accept(try right, path: Self.path, runs: [run]) == nil)
    }

    @Test(arguments: [ScenarioStatus.crash, .timeout, .error, .infrastructure])
    func anUnfinishedRunIsRefused(_ status: ScenarioStatus) throws {
        let reason = refusal(try wrong, [try failedRun(status)])
        #expect(reason?.hasPrefix("it ended '\(status.rawValue)' on \(Self.release)") == true)
    }

    @Test func aFileChangedSinceTheRunIsRefused() throws {
        let edited = try wrong.replacingOccurrences(of: "livepatch_callbacks_busymod: livepatch_callbacks_busymod_init\n", with: "")
        #expect(refusal(edited, [try failedRun()])?.contains("changed since the run on \(Self.release)") == true)
    }

    @Test func kernelSpecificLinesAreRefused() throws {
        let withVariant = try wrong.replacingOccurrences(of: "% rmmod livepatch_callbacks_demo\n",
                                                         with: "% rmmod livepatch_callbacks_demo\n@6.12: livepatch: only on 6.12\n")
        var run = try failedRun()
        run.expected = try ScenarioParser.parse(withVariant, path: Self.path).transcript(for: Self.release)
        #expect(refusal(withVariant, [run])?.contains("kernel-specific lines (line 37, '@6.12:')") == true)
    }

    @Test func aRunThatStoppedEarlyIsRefused() throws {
        var run = try failedRun()
        run.actual = Array(run.actual.prefix(4)) + ["insmod: ERROR: could not insert module livepatch-callbacks-demo.ko: Device or resource busy"]
        #expect(refusal(try wrong, [run])?.contains("has 2 of the file's 7 actions") == true)
    }

    @Test func kernelsThatDisagreeAreRefused() throws {
        var other = try failedRun(release: "6.12.117+deb12-amd64")
        other.actual[1] = "livepatch_callbacks_busymod: something else"
        #expect(refusal(try wrong, [try failedRun(), other])?.contains("of 6.1.0-56-amd64 and 6.12.117+deb12-amd64 differ") == true)
    }

    @Test func aLineTheFormatCannotHoldIsRefused() throws {
        var run = try failedRun()
        run.actual.insert("# a kernel line that reads as a comment", at: 1)
        #expect(refusal(try wrong, [run])?.contains("cannot be written as an expected line") == true)
    }

    /// The whole command's path, on a results folder as a run leaves it.
    @Test func aResultsFolderIsAcceptedIntoTheScenarioFile() throws {
        let root = NSTemporaryDirectory() + "klp-accept-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = "\(root)/results/\(Self.release)", scenarios = "\(root)/scenarios"
        for directory in ["\(folder)/busy-target-module", scenarios] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let run = try failedRun()
        try FileBytes.writeLines(run.expected, to: "\(folder)/busy-target-module/expected.txt")
        try FileBytes.writeLines(run.actual, to: "\(folder)/busy-target-module/actual.txt")
        var document = ResultsDocument(kernel: Self.release, planned: 2)
        document.complete = true
        document.addUnreported(["busy-target-module"], status: .fail, reason: "the kernel log differs from the transcript")
        document.addUnreported(["atomic-replace"], status: .crash, reason: "kernel crashed")
        try document.write(to: "\(folder)/results.json")
        let file = "\(scenarios)/09-busy-target-module.scenario"
        try FileBytes.write(Array(try wrong.utf8), to: file)
        try FileBytes.write(Array("% insmod livepatch-callbacks-demo.ko\n".utf8), to: "\(scenarios)/11-atomic-replace.scenario")

        var log: [String] = []
        let outcome = try TranscriptAcceptance.accept(results: "\(root)/results", scenarios: scenarios, names: [], kernel: nil) { log.append($0) }
        #expect(outcome.accepted == [file])
        #expect(outcome.refusals.isEmpty)
        #expect(try KernelFile.read(file) == (try right))
        #expect(log == ["busy-target-module: wrote the actual transcript of \(Self.release) into \(file); review it with 'git diff \(file)'"])

        // Named, the crashed one is refused; the accepted file, now
        // changed since the run, is refused too and stays as written.
        let again = try TranscriptAcceptance.accept(results: "\(root)/results", scenarios: scenarios,
                                                    names: ["atomic-replace", "busy-target-module"], kernel: nil) { _ in }
        #expect(again.accepted.isEmpty)
        #expect(again.refusals.map(\.scenario) == ["atomic-replace", "busy-target-module"])
        #expect(try KernelFile.read(file) == (try right))
    }
}
