import Foundation
import Testing
@testable import KlpHarness

/// A results folder written to a temporary directory, shaped like a real
/// run's (results.json, per scenario expected/actual/kmsg/diff), then read
/// back through ResultsArchive as `klp-harness report` does.
final class ResultsFolderBuilder {
    let root: String

    struct Scenario {
        var name: String
        var status = "pass"
        var duration = 1.5
        var diagnostics: [String] = []
        var expected: [String]
        var actual: [String]
        /// (seconds since boot, message) pairs, written as dmesg lines.
        var kmsg: [(Double, String)]
        /// False: listed in results.json, but no files (the run never got to it).
        var files = true
    }

    init() throws {
        root = NSTemporaryDirectory() + "klp-harness-html-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func kernel(_ release: String, complete: Bool = true, planned: Int? = nil, _ scenarios: [Scenario]) throws {
        let directory = "\(root)/\(release)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var entries: [[String: Any]] = []
        for (index, scenario) in scenarios.enumerated() {
            var artifacts: [String: String] = [:]
            if scenario.files {
                let folder = "\(directory)/\(scenario.name)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try write(scenario.expected, to: "\(folder)/expected.txt")
                try write(scenario.actual, to: "\(folder)/actual.txt")
                let records = scenario.kmsg.enumerated().map { index, line in
                    KmsgRecord(sequence: UInt64(index), timestamp: UInt64((line.0 * 1_000_000).rounded()), message: line.1).dmesgLine
                }
                try write(records, to: "\(folder)/kmsg.txt")
                artifacts = ["expected": "\(scenario.name)/expected.txt", "actual": "\(scenario.name)/actual.txt",
                             "kmsg": "\(scenario.name)/kmsg.txt"]
                let diff = UnifiedDiff(expected: scenario.expected, actual: scenario.actual)
                if !diff.isEmpty {
                    try write(diff.render(), to: "\(folder)/diff.txt")
                    artifacts["diff"] = "\(scenario.name)/diff.txt"
                }
            }
            entries.append([
                "number": index + 1, "name": scenario.name, "status": scenario.status,
                "durationSeconds": scenario.duration, "transitionSeconds": 0.25, "transitions": 1,
                "diagnostics": scenario.diagnostics, "logExcerpt": [String](), "artifacts": artifacts,
            ])
        }
        let document: [String: Any] = ["kernel": release, "complete": complete, "planned": planned ?? scenarios.count, "scenarios": entries]
        try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
            .write(to: URL(fileURLWithPath: "\(directory)/results.json"))
    }

    func write(_ lines: [String], to path: String) throws {
        try (lines.map { $0 + "\n" }.joined()).write(toFile: path, atomically: true, encoding: .utf8)
    }

    func archive() throws -> ResultsArchive { try ResultsArchive.load(root) }
}

/// A passing scenario with one transition and its callbacks.
func passingScenario(_ name: String) -> ResultsFolderBuilder.Scenario {
    let transcript = [
        "% insmod livepatch-callbacks-demo.ko",
        "livepatch: enabling patch 'livepatch_callbacks_demo'",
        "livepatch: 'livepatch_callbacks_demo': initializing patching transition",
        "livepatch_callbacks_demo: pre_patch_callback: vmlinux",
        "livepatch: 'livepatch_callbacks_demo': starting patching transition",
        "livepatch: 'livepatch_callbacks_demo': completing patching transition",
        "livepatch_callbacks_demo: post_patch_callback: vmlinux",
        "livepatch: 'livepatch_callbacks_demo': patching complete",
    ]
    let times = [10.0, 10.05, 10.06, 10.061, 10.07, 11.2, 11.21, 11.22]
    return .init(name: name, expected: transcript, actual: transcript,
                 kmsg: [(9.99, "klp-harness[1]: begin \(name) #1")] + Array(zip(times, transcript)))
}

/// A failing scenario: one callback line differs, and the log has an extra line.
func failingScenario(_ name: String) -> ResultsFolderBuilder.Scenario {
    var scenario = passingScenario(name)
    scenario.status = "fail"
    scenario.diagnostics = ["transcript differs from expected.txt"]
    scenario.expected[6] = "livepatch_callbacks_demo: post_patch_callback: vmlinux (deliberately wrong)"
    scenario.actual.append("livepatch_callbacks_demo: surprise")
    scenario.kmsg.append((11.5, "livepatch_callbacks_demo: surprise"))
    return scenario
}

@Suite("HTMLReport: one self-contained page of a results folder")
struct HTMLReportTests {
    /// Two kernels × three scenarios, one failing on the second kernel.
    func standardArchive(_ folder: ResultsFolderBuilder) throws -> ResultsArchive {
        try folder.kernel("6.1.0-56-amd64", [passingScenario("alpha"), passingScenario("beta"), passingScenario("gamma")])
        try folder.kernel("6.12.117+deb12-amd64", [passingScenario("alpha"), failingScenario("beta"), passingScenario("gamma")])
        return try folder.archive()
    }

    /// The text between the first `start` and the next `end` after it.
    func slice(_ html: String, from start: String, to end: String) throws -> Substring {
        let lower = try #require(html.range(of: start), "no \(start)")
        let upper = try #require(html.range(of: end, range: lower.upperBound..<html.endIndex), "no \(end) after \(start)")
        return html[lower.lowerBound..<upper.upperBound]
    }

    func count(_ needle: String, in text: some StringProtocol) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    /// The section of one kernel × scenario, from its id to its end.
    func section(_ html: String, _ release: String, _ scenario: String) throws -> Substring {
        try slice(html, from: "id=\"\(HTMLReport.sectionID(release: release, scenario: scenario))\"", to: "</section>")
    }

    @Test func escapesEveryTextFromFiles() throws {
        let folder = try ResultsFolderBuilder()
        var scenario = failingScenario("evil")
        scenario.diagnostics = ["<b>bold</b> & \"quoted\""]
        scenario.expected[1] = "<script>alert('expected')</script>"
        scenario.actual[1] = "<img src=x onerror=alert(1)> & more"
        scenario.kmsg[2].1 = "<img src=x onerror=alert(1)> & more"
        scenario.kmsg.append((11.6, "control \u{1}char"))
        try folder.kernel("6.1<x>", [scenario])
        let html = HTMLReport.render(try folder.archive())

        #expect(count("<script", in: html) == 1, "only the report's own print script")
        #expect(!html.contains("<img"))
        #expect(!html.contains("<b>bold"))
        #expect(html.contains("&lt;script&gt;alert('expected')&lt;/script&gt;"))
        #expect(html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; more"))
        #expect(html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;"))
        #expect(html.contains("<code>6.1&lt;x&gt;</code>"))
        #expect(html.contains("control \u{2401}char"), "control characters are shown as their pictures")
        #expect(!html.contains("\u{1}"))
        #expect(HTMLReport.escape("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e'f")
    }

    @Test func matrixHasARowPerScenarioAndAColumnPerKernel() throws {
        let folder = try ResultsFolderBuilder()
        let html = HTMLReport.render(try standardArchive(folder))
        let matrix = try slice(html, from: "<table class=\"matrix\">", to: "</table>")
        let head = try slice(String(matrix), from: "<thead>", to: "</thead>")
        #expect(count("<th scope=\"col\">", in: head) == 3)
        #expect(head.contains("<code>6.1.0-56-amd64</code>") && head.contains("<code>6.12.117+deb12-amd64</code>"))
        let body = try slice(String(matrix), from: "<tbody>", to: "</tbody>")
        #expect(count("<tr>", in: body) == 3)
        #expect(count("<td class=\"cell", in: body) == 6)
        for name in ["alpha", "beta", "gamma"] {
            #expect(body.contains("<th scope=\"row\">\(name)</th>"))
            for release in ["6.1.0-56-amd64", "6.12.117+deb12-amd64"] {
                #expect(body.contains("href=\"#\(HTMLReport.sectionID(release: release, scenario: name))\""))
            }
        }
        #expect(body.contains("<span class=\"time\">1.50 s</span>"))
        #expect(matrix.contains("<tfoot><tr><th scope=\"row\">Passed</th><td>3/3</td><td>2/3</td></tr></tfoot>"))
    }

    @Test func failuresAreMarkedWithWordsNotOnlyColour() throws {
        let folder = try ResultsFolderBuilder()
        let html = HTMLReport.render(try standardArchive(folder))
        let body = try slice(html, from: "<tbody>", to: "</tbody>")
        #expect(count("✗ FAIL", in: body) == 1)
        #expect(count("✓ PASS", in: body) == 5)
        #expect(body.contains("<td class=\"cell fail problem\"><a href=\"#k-6-12-117-deb12-amd64-beta\"><strong>✗ FAIL</strong>"))
        #expect(html.contains("<p class=\"totals\">6 scenario runs on 2 kernels: <span class=\"count pass\">5 passed</span>, <span class=\"count fail\">1 failed</span></p>"))
        #expect(html.contains("<title>klp-harness report: 1 of 6 not passing</title>"))

        // The failing section is open, the passing ones collapsed.
        let failing = try section(html, "6.12.117+deb12-amd64", "beta")
        #expect(failing.contains("<details open>"))
        #expect(failing.contains("<span class=\"badge fail\">✗ FAIL</span>"))
        #expect(failing.contains("<li>transcript differs from expected.txt</li>"))
        let passing = try section(html, "6.1.0-56-amd64", "beta")
        #expect(passing.contains("<details>\n"))
        #expect(!passing.contains("<details open>"))
    }

    @Test func otherStatusesHaveTheirOwnWords() {
        #expect(HTMLReport.label(.timeout) == "⏱ TIMEOUT")
        #expect(HTMLReport.label(.error) == "! ERROR")
        #expect(HTMLReport.label(.skip) == "– SKIP")
        #expect(HTMLReport.label(.infrastructure) == "! INFRA")
        #expect(HTMLReport.statusClass(.crash) == "fail")
        #expect(ScenarioStatus.timeout.needsAttention && ScenarioStatus.infrastructure.needsAttention)
        #expect(!ScenarioStatus.pass.needsAttention && !ScenarioStatus.skip.needsAttention)
    }

    @Test func sectionIDsAreSanitisedAndUnique() throws {
        #expect(HTMLReport.sectionID(release: "6.12.117+deb12-amd64", scenario: "busy-target-module")
                == "k-6-12-117-deb12-amd64-busy-target-module")
        #expect(HTMLReport.sectionID(release: "6.1 rc<1>", scenario: "a_b.c") == "k-6-1-rc-1--a_b-c")

        let folder = try ResultsFolderBuilder()
        let html = HTMLReport.render(try standardArchive(folder))
        let ids = html.components(separatedBy: " id=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(Set(ids).count == ids.count, "duplicate ids: \(ids)")
        #expect(ids.allSatisfy { $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") } })
        for release in ["6.1.0-56-amd64", "6.12.117+deb12-amd64"] {
            for name in ["alpha", "beta", "gamma"] {
                #expect(ids.contains(Substring(HTMLReport.sectionID(release: release, scenario: name))))
            }
        }
        // Every in-page link has its target.
        let targets = html.components(separatedBy: "href=\"#").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(!targets.isEmpty)
        for target in targets { #expect(ids.contains(target), "dangling link #\(target)") }
    }

    @Test func alignmentPairsChangedLinesSideBySide() {
        let diff = UnifiedDiff(expected: ["a", "b", "c", "d"], actual: ["a", "x", "c", "d", "e"])
        typealias Row = HTMLReport.AlignedRow
        #expect(HTMLReport.align(diff) == [
            Row(expected: .same(1, "a"), actual: .same(1, "a")),
            Row(expected: .changed(2, "b"), actual: .changed(2, "x")),
            Row(expected: .same(3, "c"), actual: .same(3, "c")),
            Row(expected: .same(4, "d"), actual: .same(4, "d")),
            Row(expected: .gap, actual: .changed(5, "e")),
        ])
        // Two removed against one added: the second removal faces a gap.
        #expect(HTMLReport.align(UnifiedDiff(expected: ["a", "b", "c"], actual: ["a", "z"])) == [
            Row(expected: .same(1, "a"), actual: .same(1, "a")),
            Row(expected: .changed(2, "b"), actual: .changed(2, "z")),
            Row(expected: .changed(3, "c"), actual: .gap),
        ])
    }

    @Test func failingTranscriptsAreSideBySideWithMarkedLines() throws {
        let folder = try ResultsFolderBuilder()
        let html = HTMLReport.render(try standardArchive(folder))
        let failing = try section(html, "6.12.117+deb12-amd64", "beta")
        let expectedPane = try slice(String(failing), from: "<div class=\"pane expected\"", to: "<div class=\"pane actual\"")
        let actualPane = try slice(String(failing), from: "<div class=\"pane actual\"", to: "</div></div>\n")
        // Same number of rows on each side: the panes line up.
        #expect(count("<div class=\"l", in: expectedPane) == 9)
        #expect(count("<div class=\"l", in: actualPane) == 9)
        #expect(expectedPane.contains("<div class=\"l r\"><i>7</i><b>−</b><del>livepatch_callbacks_demo: post_patch_callback: vmlinux (deliberately wrong)</del></div>"))
        #expect(actualPane.contains("<div class=\"l a\"><i>7</i><b>+</b><ins>livepatch_callbacks_demo: post_patch_callback: vmlinux</ins></div>"))
        #expect(actualPane.contains("<div class=\"l a\"><i>9</i><b>+</b><ins>livepatch_callbacks_demo: surprise</ins></div>"))
        #expect(expectedPane.contains("<div class=\"l g\" aria-hidden=\"true\">"))
        #expect(!expectedPane.contains("<ins>") && !actualPane.contains("<del>"))
        // The rows of both panes, in order, are the aligned rows.
        let kinds: (Substring) -> [String] = { pane in
            pane.components(separatedBy: "<div class=\"l").dropFirst().map { String($0.prefix { $0 != ">" }) }
        }
        #expect(kinds(expectedPane) == ["\"", "\"", "\"", "\"", "\"", "\"", " r\"", "\"", " g\" aria-hidden=\"true\""])
        #expect(kinds(actualPane) == ["\"", "\"", "\"", "\"", "\"", "\"", " a\"", "\"", " a\""])

        // Passing scenarios show the one transcript, without diff marks.
        let passing = try section(html, "6.1.0-56-amd64", "beta")
        #expect(passing.contains("<ol class=\"pane single\""))
        #expect(count("<li>", in: passing) == 8)
        #expect(!passing.contains("<del>") && !passing.contains("<ins>"))
        #expect(count("<del>", in: html) == 1 + 1, "one removed line, plus the legend")
    }

    @Test func timelineChartAndEventsTable() throws {
        let folder = try ResultsFolderBuilder()
        let html = HTMLReport.render(try standardArchive(folder))
        #expect(count("<svg class=\"timeline\"", in: html) == 6)
        let failing = try section(html, "6.12.117+deb12-amd64", "beta")
        let svg = try slice(String(failing), from: "<svg", to: "</svg>")
        #expect(svg.contains("role=\"img\""))
        // The transition bar, labelled with its patch and duration (10.06 → 11.22 s).
        #expect(svg.contains("<g class=\"bar\"><title>transition: livepatch_callbacks_demo, from 0.070000 s for 1.160000 s</title>"))
        #expect(svg.contains(">livepatch_callbacks_demo 1.160 s</text>"))
        // Actions as ticks with numbered labels; callbacks as dots.
        #expect(svg.contains(">1 insmod livepatch-callbacks-demo.ko<title>% insmod livepatch-callbacks-demo.ko</title></text>"))
        #expect(svg.contains("<circle class=\"dot\""))
        // The unexpected line and the missing one are marked.
        #expect(svg.contains("<g class=\"dot unexpected\"><title>1.220000 s unexpected: livepatch_callbacks_demo: post_patch_callback: vmlinux</title>"))
        #expect(svg.contains("<g class=\"dot missing\"><title>1.210000 s missing (expected after this point): livepatch_callbacks_demo: post_patch_callback: vmlinux (deliberately wrong)</title>"))
        #expect(svg.contains(">seconds</text>"))
        #expect(svg.contains(">0.0 s</text>") && svg.contains(">1.6 s</text>"))
        // Lanes by name.
        for lane in ["actions", "transitions", "callbacks", "missing", "livepatch core", "other lines"] {
            #expect(svg.contains(">\(lane)</text>"), "lane \(lane)")
        }

        // The same events in a table: one row per kmsg line, plus the missing one.
        let table = try slice(String(failing), from: "<table class=\"ev\">", to: "</table>")
        #expect(count("<tr", in: table) == 1 + 10 + 1)
        #expect(table.contains("<tr class=\"action\"><td>0.010000</td><td>action</td><td>% insmod livepatch-callbacks-demo.ko</td></tr>"))
        #expect(table.contains("<tr class=\"a\"><td>1.510000</td><td>other + unexpected</td><td>livepatch_callbacks_demo: surprise</td></tr>"))
        #expect(table.contains("<tr class=\"r\"><td>≈1.210000</td><td>− missing (expected)</td>"))
        #expect(failing.contains("<details class=\"events\" open>"))

        let passing = try section(html, "6.1.0-56-amd64", "alpha")
        #expect(passing.contains("<details class=\"events\"><summary>Kernel log events (9)</summary>"))
        #expect(!passing.contains("class=\"dot missing\"") && !passing.contains(">missing</text>"))
    }

    @Test func transitionThatNeverCompletesIsDrawnOpen() throws {
        let folder = try ResultsFolderBuilder()
        var scenario = passingScenario("stalled")
        scenario.status = "timeout"
        scenario.kmsg = Array(scenario.kmsg.prefix(6)) + [(40.0, "klp-harness[1]: timeout stalled")]
        scenario.actual = Array(scenario.actual.prefix(5))
        try folder.kernel("6.1.0-56-amd64", [scenario])
        let html = HTMLReport.render(try folder.archive())
        #expect(html.contains("<g class=\"bar open\"><title>transition not completed: livepatch_callbacks_demo, from 0.070000 s for 29.940000 s</title>"))
        #expect(html.contains("livepatch_callbacks_demo 29.940 s — not completed</text>"))
        #expect(html.contains("a transition not completed"))
        #expect(html.contains("<td class=\"cell timeout problem\">"))
        #expect(html.contains("⏱ TIMEOUT"))
    }

    @Test func scenariosWithoutFilesAndKernelsWithoutAScenario() throws {
        let folder = try ResultsFolderBuilder()
        var notRun = passingScenario("beta")
        notRun.status = "infrastructure"
        notRun.files = false
        notRun.diagnostics = ["the VM died before this scenario"]
        try folder.kernel("6.1.0-56-amd64", complete: false, planned: 3, [passingScenario("alpha"), notRun])
        try folder.kernel("6.12.117+deb12-amd64", [passingScenario("alpha"), passingScenario("beta"), passingScenario("gamma")])
        let html = HTMLReport.render(try folder.archive())
        #expect(html.contains("<td class=\"cell missing\">— not run</td>"))
        #expect(html.contains("<td class=\"cell infrastructure problem\">"))
        #expect(html.contains("No transcript files: the run did not get to this scenario."))
        #expect(html.contains("incomplete: 2 of 3 planned scenarios reported"))
        #expect(html.contains("⚠ This kernel’s run did not complete"))
        #expect(html.contains("<li>the VM died before this scenario</li>"))
    }

    @Test func selfContainedWithoutExternalReferences() throws {
        let folder = try ResultsFolderBuilder()
        let archive = try standardArchive(folder)
        for html in [HTMLReport.render(archive), HTMLReport.render(archive, linkingFrom: folder.root)] {
            #expect(html.hasPrefix("<!DOCTYPE html>"))
            #expect(!html.contains("http://") && !html.contains("https://"))
            #expect(!html.contains("src="), "no images, scripts or frames from elsewhere")
            #expect(!html.contains("<link") && !html.contains("@import") && !html.contains("url(") && !html.contains("@font-face"))
            #expect(!html.contains("//"), "no protocol-relative references")
            let hrefs = html.components(separatedBy: "href=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
            for href in hrefs {
                #expect(href.hasPrefix("#") || !(href.contains(":") || href.hasPrefix("/")), "external href \(href)")
            }
            #expect(html.contains("<style>") && html.contains("@media print") && html.contains("@media (max-width:700px)"))
            #expect(html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
        }
    }

    @Test func filesAreLinkedOnlyFromInsideTheResultsFolder() throws {
        let folder = try ResultsFolderBuilder()
        let archive = try standardArchive(folder)
        let unlinked = HTMLReport.render(archive)
        #expect(!unlinked.contains("href=\"6."))
        #expect(unlinked.contains("<code>beta/diff.txt</code>"))

        let linked = HTMLReport.render(archive, linkingFrom: folder.root)
        #expect(linked.contains("<a href=\"6.12.117+deb12-amd64/beta/diff.txt\"><code>beta/diff.txt</code></a>"))
        #expect(linked.contains("<a href=\"6.1.0-56-amd64/alpha/kmsg.txt\"><code>alpha/kmsg.txt</code></a>"))

        // From one kernel's folder, or from outside, no paths that leave it.
        let elsewhere = HTMLReport.render(archive, linkingFrom: NSTemporaryDirectory() + "somewhere-else")
        #expect(!elsewhere.contains("href=\"6.") && !elsewhere.contains("href=\".."))
    }

    @Test func writeCreatesTheFileAndReportsUnwritablePaths() throws {
        let folder = try ResultsFolderBuilder()
        let archive = try standardArchive(folder)
        let path = "\(folder.root)/report/index.html"
        try HTMLReport.write(archive, to: path)
        let written = try String(contentsOfFile: path, encoding: .utf8)
        #expect(written.contains("<a href=\"../6.12.117+deb12-amd64/beta/diff.txt\">") == false, "links never climb out")
        try HTMLReport.write(archive, to: "\(folder.root)/index.html")
        let inRoot = try String(contentsOfFile: "\(folder.root)/index.html", encoding: .utf8)
        #expect(inRoot.contains("<a href=\"6.12.117+deb12-amd64/beta/diff.txt\">"))
        // The results folder still loads with the page inside it.
        #expect(try ResultsArchive.load(folder.root).kernels.count == 2)

        try "not a folder".write(toFile: "\(folder.root)/file", atomically: true, encoding: .utf8)
        let error = #expect(throws: HarnessError.self) { try HTMLReport.write(archive, to: "\(folder.root)/file/index.html") }
        #expect(error?.status == .badInput)
        #expect(error?.problem.hasPrefix("cannot write the report to \(folder.root)/file/index.html") == true)
    }

    @Test func axisStepsAreRound() {
        #expect(HTMLReport.TimelineChart.step(for: 1.874) == 0.5)
        #expect(HTMLReport.TimelineChart.step(for: 7.2) == 1)
        #expect(abs(HTMLReport.TimelineChart.step(for: 0.003) - 0.0005) < 1e-12)
        #expect(HTMLReport.TimelineChart.step(for: 45) == 10)
        #expect(HTMLReport.TimelineChart.axisLabel(1.5, step: 0.5) == "1.5 s")
        #expect(HTMLReport.TimelineChart.callbackLabel(
            "livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_mod -> [MODULE_STATE_LIVE] Normal state")
                == "pre_patch livepatch_callbacks_mod LIVE")
        #expect(HTMLReport.TimelineChart.callbackLabel("livepatch_callbacks_demo: post_unpatch_callback: vmlinux") == "post_unpatch vmlinux")
    }
}
