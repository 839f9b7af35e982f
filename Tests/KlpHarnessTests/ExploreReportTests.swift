import Foundation
import Testing
@testable import KlpHarness

/// explore.json as results.json: from real explore.json files of
/// 6.1.0-57-amd64 (Fixtures/README.md says how each was made).
@Suite("ExploreReport: an exploration as results.json, JUnit and the HTML page")
struct ExploreReportTests {
    static func document(_ name: String) throws -> ExploreDocument {
        try JSONDecoder().decode(ExploreDocument.self, from: Data(try Fixture.text(name, "json").utf8))
    }

    /// The shrunk files of the mutation run, as the host reads them from
    /// the release folder.
    static func mutationFiles() throws -> [String: String] {
        [
            "explore/seed1-sequence3.diff": try Fixture.text("explore-6.1-mutation-seed1-sequence3", "diff"),
            "explore/seed1-sequence3.scenario": try Fixture.text("explore-6.1-mutation-seed1-sequence3", "scenario"),
        ]
    }

    @Test func oneEntryPerSequenceWithItsSeedAndNumber() throws {
        let explore = try Self.document("explore-6.1-pass")
        let results = ExploreReport.resultsDocument(explore)
        #expect(results.kernel == "6.1.0-57-amd64")
        #expect(results.planned == 5 && results.complete)
        #expect(results.scenarios.map(\.name) == (1...5).map { "seed1-sequence\($0)" })
        #expect(results.scenarios.map(\.seed) == Array(repeating: 1, count: 5))
        #expect(results.scenarios.map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(results.scenarios.allSatisfy { $0.status == .pass && $0.artifacts.isEmpty })
        #expect(results.scenarios.map(\.durationSeconds) == explore.sequences.map(\.seconds))
        // The actions are in the entry, for a person reading a pass.
        #expect(results.scenarios[0].diagnostics == ["seed 1, sequence 1: " + explore.sequences[0].body.map { $0.command() }.joined(separator: "; ")
            + "; teardown: " + explore.sequences[0].teardown.map { $0.command() }.joined(separator: "; ")])
        // Encoded, the new fields are there; a suite entry has none.
        let json = try results.encoded()
        #expect(json.contains("\"seed\" : 1") && json.contains("\"sequence\" : 5"))
        let suite = ResultsDocument.Entry(number: 1, name: "x", status: .pass, durationSeconds: 0, transitionSeconds: 0,
                                          transitions: 0, diagnostics: [], logExcerpt: [], artifacts: [:])
        #expect(!ScenarioRecord(kernel: "k", result: suite).json().contains("seed"))
    }

    /// The mutation run's sequence 3 mismatched and was shrunk: its entry
    /// fails with the shrunk .diff as its excerpt and the files linked.
    @Test func aMismatchCarriesItsShrunkScenarioAndDiff() throws {
        let explore = try Self.document("explore-6.1-mutation")
        let results = ExploreReport.resultsDocument(explore, files: try Self.mutationFiles())
        #expect(results.scenarios.count == 15)
        #expect(results.scenarios.filter { $0.status != .pass }.map(\.name) == ["seed1-sequence3"])
        let entry = results.scenarios[2]
        #expect(entry.status == .fail)
        #expect(entry.artifacts == ["scenario": "explore/seed1-sequence3.scenario", "diff": "explore/seed1-sequence3.diff",
                                    "kmsg": "explore/seed1-sequence3.kmsg.txt"])
        #expect(entry.diagnostics.first == "mismatch with the model, shrunk from 5 to 3 action(s) in 11 run(s): explore/seed1-sequence3.scenario")
        #expect(entry.logExcerpt == (try Fixture.lines("explore-6.1-mutation-seed1-sequence3", "diff")))
        #expect(entry.logExcerpt.contains("-livepatch_callbacks_demo: post_patch_callback: livepatch_callbacks_mod -> [MODULE_STATE_COMING] Full formed, running module_init"))

        // JUnit: a <failure> with the diff, the files in <system-out>.
        let xml = JUnitReport.render([results])
        #expect(xml.contains(#"<testsuite name="livepatch-callbacks.6.1.0-57-amd64" tests="15" failures="1" errors="0" skipped="0""#))
        #expect(xml.contains("scenario: explore/seed1-sequence3.scenario"))
        #expect(xml.contains("-livepatch_callbacks_demo: post_patch_callback: livepatch_callbacks_mod -&gt; [MODULE_STATE_COMING]"))

        // The page: the sequence's section shows the diff and links the files.
        let html = HTMLReport.render(ResultsArchive(root: "/r", kernels: [
            ResultsArchive.KernelRun(release: results.kernel, directory: "/r/6.1.0-57-amd64", document: results, delivered: [:]),
        ]), linkingFrom: "/r")
        #expect(html.contains("<title>klp-harness report: 1 of 15 not passing</title>"))
        #expect(html.contains("<dt>Explored</dt><dd>seed 1, sequence 3</dd>"))
        #expect(!html.contains("<dt>Transitions</dt>"))
        #expect(html.contains("<li>-livepatch_callbacks_demo: post_patch_callback: livepatch_callbacks_mod -&gt; [MODULE_STATE_COMING] Full formed, running module_init</li>"))
        #expect(html.contains(#"<a href="6.1.0-57-amd64/explore/seed1-sequence3.scenario">"#))
    }

    /// Past --shrink-limit the explorer lists a mismatch without shrinking
    /// it: the entry then has the model's diff of the whole sequence.
    @Test func anUnshrunkMismatchHasTheModelsDiff() throws {
        var explore = try Self.document("explore-6.1-mutation")
        explore.mismatches = [ExploreDocument.Mismatch(sequence: 3, original: explore.sequences[2].body)]
        let entry = ExploreReport.resultsDocument(explore).scenarios[2]
        #expect(entry.status == .fail)
        #expect(entry.diagnostics.first == "mismatch with the model, not shrunk (the run's shrink limit was reached)")
        #expect(entry.logExcerpt.first == "--- model")
        #expect(entry.logExcerpt.contains("-livepatch_callbacks_demo: post_patch_callback: livepatch_callbacks_mod -> [MODULE_STATE_COMING] Full formed, running module_init"))
    }

    /// A crash, as the host records it: the sequence's console excerpt
    /// (here the real oops of Fixtures/console-oops-6.1.log, headline
    /// first) and a crash reproducer shrunk to a scenario file.
    @Test func aCrashShowsTheExcerptAndTheShrunkReproducer() throws {
        var explore = try Self.document("explore-6.1-pass")
        let crash = try #require(KernelCrash.first(in: try Fixture.lines("console-oops-6.1", "log")))
        explore.sequences[3].status = "crash"
        explore.sequences[3].crash = [crash.headline] + crash.excerpt
        var mismatch = ExploreDocument.Mismatch(sequence: 4, original: explore.sequences[3].body)
        mismatch.kind = "crash"
        mismatch.shrunk = Array(explore.sequences[3].body.prefix(1))
        mismatch.scenarioFile = "explore/seed1-sequence4.scenario"
        mismatch.files = ["explore/seed1-sequence4.scenario", "explore/seed1-sequence4.kmsg.txt"]
        explore.mismatches = [mismatch]
        let reproducer = "# a reproducer\n% insmod livepatch-callbacks-demo.ko\n"
        let results = ExploreReport.resultsDocument(explore, files: ["explore/seed1-sequence4.scenario": reproducer])
        let entry = results.scenarios[3]
        #expect(entry.status == .crash)
        #expect(entry.diagnostics[0] == "kernel crashed: \(crash.headline)")
        #expect(entry.diagnostics[1].hasPrefix("crash reproducer, shrunk from \(mismatch.original.count) to 1 action(s): explore/seed1-sequence4.scenario"))
        #expect(Array(entry.logExcerpt.prefix(crash.excerpt.count + 1)) == [crash.headline] + crash.excerpt)
        #expect(entry.logExcerpt.suffix(3) == ["The shrunk reproducer, explore/seed1-sequence4.scenario:", "# a reproducer", "% insmod livepatch-callbacks-demo.ko"])
        #expect(entry.artifacts["scenario"] == "explore/seed1-sequence4.scenario")
        let xml = JUnitReport.render([results])
        #expect(xml.contains(#"<failure type="crash" message="kernel crashed: \#(Markup.escape(crash.headline, keepingNewlines: true))">"#))
    }

    /// Under --compare the guest judges nothing: the model's verdict that
    /// explore.json records is not a failure of the run.
    @Test func recordedTranscriptsAreNotJudged() throws {
        var explore = try Self.document("explore-6.1-mutation")
        explore.recordOnly = true
        explore.mismatches = []
        let results = ExploreReport.resultsDocument(explore)
        #expect(results.scenarios.allSatisfy { $0.status == .pass })
        // The kernel's transcript is kept: its last lines are the excerpt.
        #expect(results.scenarios[2].logExcerpt == Array((explore.sequences[2].actual ?? []).suffix(5)))
    }

    @Test func aGuestThatSentNothingLeavesAnEmptyDocumentWithTheReason() {
        let folder = ResultsFolder(root: "/nonexistent", release: "6.12.117+deb12-amd64")
        let results = ExploreReport.resultsDocument(nil, release: folder.release, planned: 30, folder: folder,
                                                    infrastructureError: "the VM stopped")
        #expect(results.scenarios.isEmpty && !results.complete && results.planned == 30)
        #expect(results.infrastructureError == "the VM stopped")
    }
}
