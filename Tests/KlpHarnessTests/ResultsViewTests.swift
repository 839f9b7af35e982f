import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import KlpHarness

/// `klp-harness show` and the results reader, on a results folder from a
/// real run (Tests/KlpHarnessSystemTests/Fixtures/real-run: 6.1 and 6.12,
/// module-going-notifier with one deliberately wrong expected line).
@Suite("show: reading a results folder back")
struct ResultsViewTests {
    static let fixture = Repository.root.appendingPathComponent("Tests/KlpHarnessSystemTests/Fixtures/real-run").path

    /// A copy in a fresh directory: show must need nothing but the folder.
    static func copiedFixture() throws -> String {
        let copy = NSTemporaryDirectory() + "klp-results-copy-" + UUID().uuidString
        try FileManager.default.copyItem(atPath: fixture, toPath: copy)
        return copy
    }

    @Test func readsEveryKernelOfACopiedFolder() throws {
        let copy = try Self.copiedFixture()
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let archive = try ResultsArchive.load(copy)
        #expect(archive.kernels.map(\.release).sorted() == ["6.1.0-56-amd64", "6.12.117+deb12-amd64"])
        #expect(archive.scenarioNames == ["target-module-before-livepatch", "module-going-notifier", "busy-target-module"])
        // One kernel's folder works too.
        let one = try ResultsArchive.load("\(copy)/6.1.0-56-amd64")
        #expect(one.kernels.count == 1)
    }

    @Test func aMissingFolderIsBadInput() {
        #expect(throws: HarnessError.self) { try ResultsArchive.load("/nonexistent/results") }
    }

    @Test func theMatrixMarksTheFailure() throws {
        let archive = try ResultsArchive.load(Self.fixture)
        var table = MatrixSummary(documents: archive.kernels.sorted { $0.release < $1.release }.map(\.document))
        table.showsTransitions = true
        let lines = table.render()
        #expect(lines.first?.hasPrefix("# scenario") == true)
        let failing = try #require(lines.first { $0.contains("module-going-notifier") })
        #expect(failing.components(separatedBy: "fail ").count == 3, "both kernels fail it: \(failing)")
        #expect(lines.last == "matrix: 4 passed, 2 failed")
    }

    /// Two skips are neither passes nor failures: the matrix's count agrees
    /// with the KTAP totals (`skip:2`), as the runner's closing line does.
    @Test func skipsAreNotCountedAsFailures() {
        var document = ResultsDocument(kernel: "6.1.0-57-amd64", planned: 3)
        document.addUnreported(["a", "b"], status: .skip, reason: "not for this kernel")
        document.addUnreported(["c"], status: .pass, reason: "")
        #expect(MatrixSummary(documents: [document]).render().last == "matrix: 1 passed, 0 failed, 2 skipped")
        var closing: [String] = []
        KTAPReport { closing.append($0) }.totals(StatusTally(document.scenarios.map(\.status)))
        #expect(closing == ["# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:2 error:0", "1 passed, 0 failed, 2 skipped"])
    }

    func view(_ scenario: String, color: Bool = false) throws -> [String] {
        let archive = try ResultsArchive.load(Self.fixture)
        let kernel = try #require(archive.kernels.first { $0.release == "6.1.0-56-amd64" })
        let entry = try #require(kernel.document.scenarios.first { $0.name == scenario })
        let artifacts = try #require(kernel.artifacts(of: scenario))
        return ScenarioView(kernel: kernel, entry: entry, artifacts: artifacts, color: color).render()
    }

    @Test func aFailingScenarioShowsItsDiffAndTimeline() throws {
        let lines = try view("module-going-notifier")
        #expect(lines[0].hasPrefix("module-going-notifier on 6.1.0-56-amd64: FAIL"))
        #expect(lines.contains("Diff (- expected, + actual):"))
        #expect(lines.contains("-livepatch_callbacks_demo: post_unpatch_callback: vmlinux (deliberately wrong)"))
        #expect(lines.contains("+livepatch_callbacks_demo: post_unpatch_callback: vmlinux"))
        let timeline = try #require(lines.firstIndex { $0.hasPrefix("Timeline") })
        // The actions are in line with the kernel's lines, in time order.
        let actions = lines[timeline...].filter { $0.contains(" s  % ") }
        #expect(actions.count == 5)
        #expect(lines[timeline...].contains { $0.contains("unpatching complete") && $0.contains("[transition took ") })
        #expect(!lines.joined().contains("\u{1B}["), "no colour unless asked")
    }

    @Test func aPassingScenarioShowsItsTranscript() throws {
        let lines = try view("busy-target-module")
        #expect(lines[0].contains(": pass,"))
        #expect(lines.contains { $0.hasPrefix("Transcript (expected and actual agree") })
        #expect(lines.contains("  % insmod livepatch-callbacks-demo.ko &"))
    }

    @Test func colourOnATerminal() throws {
        let lines = try view("module-going-notifier", color: true)
        #expect(lines.contains("\u{1B}[31m-livepatch_callbacks_demo: post_unpatch_callback: vmlinux (deliberately wrong)\u{1B}[0m"))
    }

    @Test func aRealRunsResultsRenderAsValidJUnit() throws {
        // JUnitReport over the real run's results.json files, checked with the
        // schema CI's parsers follow, then parsed back.
        let archive = try ResultsArchive.load(Self.fixture)
        let documents = archive.kernels.sorted { $0.release < $1.release }.map(\.document)
        let xml = JUnitReport.render(documents)
        let validation = try JUnitReportTests().validate(xml)
        #expect(validation.status == 0, "\(validation.output)")
        let document = try XMLDocument(xmlString: xml, options: [])
        let suites = try #require(document.rootElement()).elements(forName: "testsuite")
        #expect(suites.count == documents.count)
        for (suite, results) in zip(suites, documents) {
            let cases = suite.elements(forName: "testcase")
            #expect(suite.attribute(forName: "tests")?.stringValue == String(cases.count))
            #expect(cases.map { $0.attribute(forName: "name")?.stringValue } == results.scenarios.map(\.name))
        }
        let failures = suites.flatMap { $0.elements(forName: "testcase") }.filter { !$0.elements(forName: "failure").isEmpty }
        #expect(failures.map { $0.attribute(forName: "name")?.stringValue } == ["module-going-notifier", "module-going-notifier"])
    }
}
