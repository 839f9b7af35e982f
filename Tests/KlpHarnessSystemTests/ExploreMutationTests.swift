import Foundation
import XCTest
@testable import KlpHarness

/// Proof that the explorer finds bugs: a deliberately wrong model rule and a
/// deliberately broken demo module are each caught within --count 200 and
/// shrunk to a scenario of at most 6 actions (before the teardown). They
/// boot the hermetic guest, so they run only when KLP_HARNESS_EXPLORE_TESTS=1
/// (scripts/test sets it). KLP_HARNESS_EXPLORE_KERNEL picks the kernel
/// (default 6.1).
final class ExploreMutationTests: XCTestCase {
    override func setUpWithError() throws {
        try HarnessProcess.requireExploreTests()
    }

    var kernel: String { HarnessProcess.exploreKernel }

    func testWrongModelRuleIsCaught() throws {
        let scratch = try ScratchDirectory()
        let found = try explore(["--model-mutation", CallbackModel.Mutation.postPatchForComingModuleDuringTransition.rawValue],
                                results: scratch.path)
        // The wrong rule adds a post-patch line the kernel never prints.
        XCTAssertTrue(found.diff.contains("-livepatch_callbacks_demo: post_patch_callback: livepatch_callbacks_mod -> [MODULE_STATE_COMING]"), found.diff)
    }

    /// A wrong rule in a branch only the stalled replace reaches (busymod
    /// held in the demo's replacement, then an atomic replace).
    func testWrongNopObjectRuleIsCaught() throws {
        let scratch = try ScratchDirectory()
        let found = try explore(["--model-mutation", CallbackModel.Mutation.nopObjectsPrintNothing.rawValue], results: scratch.path)
        // The kernel prints the line the wrong rule forgets.
        XCTAssertTrue(found.diff.contains("+livepatch: applying patch 'livepatch_callbacks_demo2' to loading module")
            || found.diff.contains("+livepatch: reverting patch 'livepatch_callbacks_demo2' on unloading module"), found.diff)
    }

    func testBrokenModuleIsCaught() throws {
        let scratch = try ScratchDirectory()
        // kmod/ as it is, built with the switch that makes the demo skip
        // its post-unpatch message for module objects.
        let broken = try scratch.subdirectory("kmod")
        for file in try FileManager.default.contentsOfDirectory(atPath: "\(HarnessProcess.repository)/kmod")
        where ModuleBuilder.isSource(file) {
            try FileManager.default.copyItem(atPath: "\(HarnessProcess.repository)/kmod/\(file)", toPath: "\(broken)/\(file)")
        }
        let kbuild = try String(contentsOfFile: "\(broken)/Kbuild", encoding: .utf8)
        try (kbuild + "ccflags-y += -DLIVEPATCH_CALLBACKS_TEST_MUTANT\n").write(toFile: "\(broken)/Kbuild", atomically: true, encoding: .utf8)
        let found = try explore(["--kmod", broken], results: scratch.path)
        XCTAssertTrue(found.diff.contains("-livepatch_callbacks_demo: post_unpatch_callback: livepatch_callbacks_"), found.diff)
    }

    struct Found {
        var scenario: Scenario
        var diff: String
    }

    /// Runs `vm --explore 200 --seed 1` with `extra`, expects a mismatch,
    /// and returns the first shrunk scenario after checking its size.
    func explore(_ extra: [String], results: String) throws -> Found {
        let started = Date()
        let result = try HarnessProcess.run(["vm", "--kernel", kernel, "--accel", "tcg", "--results", results,
                                             "--explore", "200", "--seed", "1"] + extra)
        XCTAssertEqual(result.status, 1, result.stderr)
        let release = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: results).first { $0.hasPrefix("6.") })
        let folder = "\(results)/\(release)/\(Explorer.folderName)"
        let document = try JSONDecoder().decode(ExploreDocument.self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/explore.json")))
        let mismatch = try XCTUnwrap(document.mismatches.first, result.stdout)
        let shrunk = try XCTUnwrap(mismatch.shrunk)
        XCTAssertLessThanOrEqual(shrunk.count, 6, "shrunk body: \(shrunk.map { $0.command() })")
        let path = "\(results)/\(release)/\(try XCTUnwrap(mismatch.scenarioFile))"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let scenario = try ScenarioParser.parse(text, path: path)
        let diff = try String(contentsOfFile: path.replacingOccurrences(of: ".scenario", with: ".diff"), encoding: .utf8)
        // Figures for the closing note and docs/explore.md.
        print("explore mutation \(extra.first ?? ""): first mismatch in sequence \(mismatch.sequence) of 200, shrunk from \(mismatch.original.count) to \(shrunk.count) action(s) in \(mismatch.shrinkRuns ?? 0) run(s), \(String(format: "%.1f", mismatch.shrinkSeconds ?? 0)) s; whole command \(String(format: "%.0f", Date().timeIntervalSince(started))) s")
        print(text)
        return Found(scenario: scenario, diff: diff)
    }
}
