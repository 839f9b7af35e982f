import Foundation
import XCTest
@testable import KlpHarness

/// Proof that a kernel crash does not end the explorer's run: the
/// test-only crash module (kmod/livepatch-callbacks-crash.c, crash=oops
/// oopses in its pre-patch callback, a panic with the guest's oops=panic)
/// is loaded inside generated sequence 3 of 6. The sequence must be
/// recorded as a crash with the console, the guest must boot again for
/// sequences 4 to 6, and the crash must be shrunk to its load. Boots the
/// hermetic guest, so it runs only when KLP_HARNESS_EXPLORE_TESTS=1
/// (scripts/test sets it); KLP_HARNESS_EXPLORE_KERNEL picks the kernel
/// (default 6.1).
final class ExploreCrashTests: XCTestCase {
    override func setUpWithError() throws {
        try HarnessProcess.requireExploreTests()
    }

    var kernel: String { HarnessProcess.exploreKernel }

    func testCrashIsRecordedShrunkAndTheRunGoesOn() throws {
        let scratch = try ScratchDirectory()
        let started = Date()
        let result = try HarnessProcess.run(["vm", "--kernel", kernel, "--accel", "tcg", "--cpus", "1", "--results", scratch.path,
                                             "--explore", "6", "--seed", "1", "--crash-in-sequence", "3"])
        let wall = Date().timeIntervalSince(started)
        // A crash is the run's failure (1), not an infrastructure error (3).
        XCTAssertEqual(result.status, 1, result.stderr)

        let release = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: scratch.path).first { $0.hasPrefix("6.") })
        let folder = "\(scratch.path)/\(release)/\(Explorer.folderName)"
        let document = try JSONDecoder().decode(ExploreDocument.self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/explore.json")))

        // One explore.json for both boots, numbered as the seed numbers them.
        XCTAssertEqual(document.sequences.map(\.number), Array(1...6), result.stdout)
        XCTAssertTrue(document.complete, result.stdout)
        XCTAssertEqual(document.sequences.map(\.status), ["pass", "pass", "crash", "pass", "pass", "pass"], result.stdout)
        let crashed = document.sequences[2]
        XCTAssertTrue(crashed.body.contains(.loadCrashModule), "\(crashed.body)")
        let console = try XCTUnwrap(crashed.crash, "sequence 3 has no console excerpt")
        XCTAssertTrue(console.first?.contains("NULL pointer") == true || console.first?.contains("Oops") == true
            || console.first?.contains("BUG") == true, "headline: \(console.first ?? "")")
        XCTAssertTrue(console.contains { $0.contains("pre_patch_callback") }, console.joined(separator: "\n"))
        // Coverage counts the sequences of both boots (5 ran to the end).
        XCTAssertGreaterThan(document.rules.values.reduce(0, +), 0)

        // One KTAP stream: one plan, the crash, the new boot, the rest.
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines.filter { $0 == "KTAP version 1" }.count, 1, result.stdout)
        XCTAssertEqual(lines.filter { $0.hasPrefix("1..") }, ["1..6"], result.stdout)
        let notOk = try XCTUnwrap(lines.firstIndex(of: "not ok 3 sequence-3"), result.stdout)
        XCTAssertTrue(lines[..<notOk].contains { $0.hasPrefix("# kernel crashed during sequence 3: ") }, result.stdout)
        let again = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("# explore: booting again after the crash") }, result.stdout)
        let ok4 = try XCTUnwrap(lines.firstIndex(of: "ok 4 sequence-4"), result.stdout)
        XCTAssertTrue(notOk < again && again < ok4, result.stdout)
        XCTAssertTrue(lines.contains("ok 6 sequence-6"), result.stdout)
        XCTAssertEqual(lines.filter { $0.hasPrefix("# Totals: ") }, ["# Totals: pass:5 fail:1 xfail:0 xpass:0 skip:0 error:0"], result.stdout)

        // The crash, shrunk on the host to (ideally) the crash load alone.
        let mismatch = try XCTUnwrap(document.mismatches.first { $0.kind == "crash" }, result.stdout)
        XCTAssertEqual(mismatch.sequence, 3)
        let shrunk = try XCTUnwrap(mismatch.shrunk)
        XCTAssertLessThanOrEqual(shrunk.count, 2, "shrunk body: \(shrunk.map { $0.command() })")
        XCTAssertTrue(shrunk.contains(.loadCrashModule), "\(shrunk)")
        let scenarioPath = "\(scratch.path)/\(release)/\(try XCTUnwrap(mismatch.scenarioFile))"
        let text = try String(contentsOfFile: scenarioPath, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("# Crashed the kernel"), text)
        XCTAssertTrue(text.contains("% insmod livepatch-callbacks-crash.ko crash=oops"), text)
        _ = try ScenarioParser.parse(text, path: scenarioPath)
        let crashText = try String(contentsOfFile: scenarioPath.replacingOccurrences(of: ".scenario", with: ".crash.txt"), encoding: .utf8)
        XCTAssertTrue(crashText.contains("pre_patch_callback"), crashText)

        // The results a suite run leaves, built from the merged explore.json:
        // the crash is sequence 3's entry, with the console and the reproducer.
        let results = try JSONDecoder().decode(ResultsDocument.self,
                                               from: Data(contentsOf: URL(fileURLWithPath: "\(scratch.path)/\(release)/results.json")))
        XCTAssertEqual(results.scenarios.map(\.name), (1...6).map { "seed1-sequence\($0)" })
        XCTAssertEqual(results.scenarios.map(\.status.rawValue), ["pass", "pass", "crash", "pass", "pass", "pass"])
        let entry = results.scenarios[2]
        XCTAssertTrue(entry.diagnostics.first?.hasPrefix("kernel crashed: ") == true, "\(entry.diagnostics)")
        XCTAssertTrue(entry.logExcerpt.contains { $0.contains("crash=oops") }, "\(entry.logExcerpt)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(scratch.path)/\(release)/junit.xml"))

        // Figures for docs/explore.md and scripts/test step 11.
        print("explore crash: sequence 3 of 6 crashed; shrunk from \(mismatch.original.count) to \(shrunk.count) action(s), "
            + "\(mismatch.shrinkRuns ?? 0) candidate(s), \(String(format: "%.1f", mismatch.shrinkSeconds ?? 0)) s; "
            + "whole command \(String(format: "%.0f", wall)) s")
        print(text)
    }
}
