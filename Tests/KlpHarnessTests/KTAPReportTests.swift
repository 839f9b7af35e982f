import Testing
@testable import KlpHarness

@Suite("KTAPReport and KTAPProgress")
struct KTAPReportTests {
    final class Lines {
        var lines: [String] = []
    }

    static let transcriptText = """
        # In memory.
        % insmod livepatch-callbacks-demo.ko
        livepatch: enabling patch 'livepatch_callbacks_demo'
        livepatch_callbacks_demo: pre_patch_callback: vmlinux
        % rmmod livepatch_callbacks_demo
        """

    func scenario(_ file: String) throws -> Scenario {
        try ScenarioParser.parse(Self.transcriptText, path: "scenarios/\(file)")
    }

    func passed() throws -> ScenarioResult {
        let scenario = try scenario("01-alpha.scenario")
        return ScenarioResult(
            scenario: scenario, status: .passed, actual: scenario.transcript, records: [],
            wallTime: .milliseconds(1970),
            transitions: [TransitionSpan(patch: "livepatch_callbacks_demo", start: 35_540_041, end: 37_182_380)],
            diagnostics: [])
    }

    func failed() throws -> ScenarioResult {
        let scenario = try scenario("02-beta.scenario")
        var actual = scenario.transcript
        actual[2] = "livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_mod"
        return ScenarioResult(
            scenario: scenario, status: .failed, actual: actual, records: [],
            wallTime: .milliseconds(250), transitions: [], diagnostics: [])
    }

    static let condition = "livepatch_callbacks_demo's patching transition to finish (/sys/kernel/livepatch/livepatch_callbacks_demo/transition = 0)"

    func timedOut() throws -> ScenarioResult {
        let scenario = try scenario("03-gamma.scenario")
        let timeout = WaitTimeout(condition: Self.condition, limit: .seconds(60))
        return ScenarioResult(
            scenario: scenario, status: .timedOut(limit: .seconds(60), condition: Self.condition),
            actual: Array(scenario.transcript.prefix(2)), records: [],
            wallTime: .milliseconds(60_012), transitions: [], diagnostics: ["stopped: \(timeout)"])
    }

    static func record(_ result: ScenarioResult, number: Int) -> ScenarioRecord {
        ScenarioRecord(kernel: "6.1.0-57-amd64", result: ResultsDocument.Entry(result, number: number))
    }

    func report(_ results: [ScenarioResult]) -> [String] {
        let sink = Lines()
        let report = KTAPReport { sink.lines.append($0) }
        report.header(plan: results.count)
        for (index, result) in results.enumerated() { report.result(result, record: Self.record(result, number: index + 1)) }
        report.totals(StatusTally(results.map { ScenarioStatus($0.status) }))
        return sink.lines
    }

    @Test func passedFailedAndTimedOut() throws {
        let (alpha, beta, gamma) = (try passed(), try failed(), try timedOut())
        let lines = report([alpha, beta, gamma])
        #expect(lines == [
            "KTAP version 1",
            "1..3",
            "# alpha: 1.970 s wall, 1.642 s in 1 transition(s)",
            Self.record(alpha, number: 1).ktapLine,
            "ok 1 alpha",
            // The scenario file and its line numbers, as cram labels a failure:
            // the first expected line is line 2 of the file (line 1 is a comment).
            "# --- scenarios/02-beta.scenario",
            "# +++ beta/actual.txt",
            "# @@ -2,4 +1,4 @@",
            "#  % insmod livepatch-callbacks-demo.ko",
            "#  livepatch: enabling patch 'livepatch_callbacks_demo'",
            "# -livepatch_callbacks_demo: pre_patch_callback: vmlinux",
            "# +livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_mod",
            "#  % rmmod livepatch_callbacks_demo",
            "# beta: 0.250 s wall, 0.000 s in 0 transition(s)",
            Self.record(beta, number: 2).ktapLine,
            "not ok 2 beta",
            "# stopped: timed out after 60.000 s waiting for \(Self.condition)",
            "# --- scenarios/03-gamma.scenario",
            "# +++ gamma/actual.txt",
            "# @@ -2,4 +1,2 @@",
            "#  % insmod livepatch-callbacks-demo.ko",
            "#  livepatch: enabling patch 'livepatch_callbacks_demo'",
            "# -livepatch_callbacks_demo: pre_patch_callback: vmlinux",
            "# -% rmmod livepatch_callbacks_demo",
            "# gamma: 60.012 s wall, 0.000 s in 0 transition(s)",
            Self.record(gamma, number: 3).ktapLine,
            "not ok 3 gamma # TIMEOUT 60 seconds",
            "# Totals: pass:1 fail:2 xfail:0 xpass:0 skip:0 error:0",
            "1 passed, 2 failed",
        ])
    }

    @Test func diagnosticsComeBeforeTheirResultLine() throws {
        let lines = report([try passed(), try failed(), try timedOut()])
        // Every result line is preceded only by `#` lines since the previous result.
        let resultIndices = lines.indices.filter { lines[$0].hasPrefix("ok ") || lines[$0].hasPrefix("not ok ") }
        #expect(resultIndices.count == 3)
        var previous = 1  // the plan
        for index in resultIndices {
            #expect(index > previous + 1, "no diagnostics before \(lines[index])")
            #expect(lines[(previous + 1)..<index].allSatisfy { $0.hasPrefix("#") })
            previous = index
        }
    }

    @Test func errorAndInterruptedResults() throws {
        var error = try failed()
        error.status = .error("could not write to the kernel log: EBADF")
        var interrupted = try failed()
        interrupted.status = .interrupted(signal: "SIGINT")
        #expect(KTAPReport.resultLine(error, number: 4) == "not ok 4 beta # ERROR could not write to the kernel log: EBADF")
        #expect(KTAPReport.resultLine(interrupted, number: 5) == "not ok 5 beta # ERROR interrupted by SIGINT")
        let totals = StatusTally([try passed(), try failed(), try timedOut(), error, interrupted].map { ScenarioStatus($0.status) } + [.skip, .skip])
        #expect(totals.passed == 1)
        #expect(totals.failures == 2)
        #expect(totals.errors == 2)
        #expect(totals.skipped == 2)
        let sink = Lines()
        KTAPReport { sink.lines.append($0) }.totals(totals)
        #expect(sink.lines == ["# Totals: pass:1 fail:2 xfail:0 xpass:0 skip:2 error:2", "1 passed, 4 failed, 2 skipped"])
    }

    @Test func multiLineDiagnostics() {
        let sink = Lines()
        KTAPReport { sink.lines.append($0) }.diagnostic("first\n\nthird")
        #expect(sink.lines == ["# first", "#", "# third"])
    }

    @Test func timeoutsAreReportedInWholeSeconds() throws {
        var result = try timedOut()
        result.status = .timedOut(limit: .milliseconds(59_600), condition: Self.condition)
        #expect(KTAPReport.resultLine(result, number: 1) == "not ok 1 gamma # TIMEOUT 60 seconds")
    }

    // MARK: Reading KTAP back

    @Test func progressReadsTheEmittedReportBack() throws {
        let lines = report([try passed(), try failed(), try timedOut()])
        var progress = KTAPProgress()
        for line in lines.dropLast(2) { progress.consume(line) }
        #expect(progress.plan == 3)
        #expect(progress.results.map(\.number) == [1, 2, 3])
        #expect(progress.results.map(\.ok) == [true, false, false])
        #expect(progress.results.map(\.name) == ["alpha", "beta", "gamma"])
        #expect(progress.results.map(\.directive) == [nil, nil, "TIMEOUT 60 seconds"])
        #expect(!progress.isComplete)
        for line in lines.suffix(2) { progress.consume(line) }
        #expect(progress.isComplete)
        #expect(progress.sawTotals)
        #expect(progress.skipReason == nil)
        #expect(progress.results.count == 3)
    }

    @Test func progressReadsARealRunsKTAP() throws {
        var progress = KTAPProgress()
        let lines = try Fixture.lines("ktap-6.1-pass", "txt")
        #expect(lines.first == "KTAP version 1")
        #expect(lines.last == "11 passed, 0 failed")
        for line in lines { progress.consume(line) }
        #expect(progress.plan == 11)
        #expect(progress.results.count == 11)
        #expect(progress.results.map(\.number) == Array(1...11))
        #expect(progress.results.allSatisfy { $0.ok && $0.directive == nil })
        #expect(progress.results.first?.name == "target-module-before-livepatch")
        #expect(progress.results.last?.name == "atomic-replace")
        #expect(progress.isComplete)
    }

    @Test func progressOfAnUnfinishedRunIsIncomplete() throws {
        // A guest that died after result 9: no totals line.
        var progress = KTAPProgress()
        let lines = try Fixture.lines("ktap-6.1-pass", "txt")
        let cut = try #require(lines.firstIndex(of: "ok 9 busy-target-module"))
        for line in lines[...cut] { progress.consume(line) }
        #expect(progress.plan == 11)
        #expect(progress.results.count == 9)
        #expect(!progress.isComplete)
    }

    @Test func skippedSuiteIsComplete() {
        let sink = Lines()
        KTAPReport { sink.lines.append($0) }.skipAll(reason: "this kernel has no CONFIG_LIVEPATCH")
        #expect(sink.lines == ["KTAP version 1", "1..0 # SKIP this kernel has no CONFIG_LIVEPATCH"])
        var progress = KTAPProgress()
        for line in sink.lines { progress.consume(line) }
        #expect(progress.plan == 0)
        #expect(progress.skipReason == "this kernel has no CONFIG_LIVEPATCH")
        #expect(progress.isComplete)
        #expect(progress.results.isEmpty)
    }

    // MARK: The record

    @Test func recordIsTheLineJustBeforeEachResult() throws {
        let results = [try passed(), try failed(), try timedOut()]
        let lines = report(results)
        let resultIndices = lines.indices.filter { lines[$0].hasPrefix("ok ") || lines[$0].hasPrefix("not ok ") }
        for (number, index) in resultIndices.enumerated() {
            let record = try #require(ScenarioRecord.parse(ktapLine: lines[index - 1]), "no record before \(lines[index])")
            #expect(record == Self.record(results[number], number: number + 1))
        }
        // A failure's record carries its diff: no reader scrapes it from the `# ` lines.
        let beta = try #require(ScenarioRecord.parse(ktapLine: lines[resultIndices[1] - 1]))
        #expect(beta.result.status == .fail)
        #expect(beta.result.logExcerpt.contains("+livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_mod"))
        #expect(beta.result.artifacts["diff"] == "beta/diff.txt")
    }

    @Test func recordRoundTripsOnOneSortedLine() throws {
        var record = Self.record(try timedOut(), number: 3)
        record.result.diagnostics.append("two\nlines")
        let line = record.ktapLine
        #expect(line.hasPrefix(ScenarioRecord.ktapPrefix + "{\"kernel\":\"6.1.0-57-amd64\",\"result\":{\"artifacts\":"))
        #expect(!line.contains("\n"))
        #expect(ScenarioRecord.parse(ktapLine: line) == record)
        #expect(ScenarioRecord.parse(ktapLine: line + "\r") == record)
    }

    @Test func recordParsesFromAKselftestNestedLine() throws {
        let record = Self.record(try passed(), number: 1)
        // run_kselftest.sh prefixes each line of a test's output with `# `.
        #expect(ScenarioRecord.parse(ktapLine: "# " + record.ktapLine) == record)
        #expect(ScenarioRecord.parse(ktapLine: "# # " + record.ktapLine + "\r") == record)
        #expect(ScenarioRecord.parse(ktapLine: "    " + record.ktapLine) == record)
    }

    @Test func truncatedOrForeignRecordIsNil() throws {
        let line = Self.record(try failed(), number: 2).ktapLine
        #expect(ScenarioRecord.parse(ktapLine: String(line.dropLast(7))) == nil)
        #expect(ScenarioRecord.parse(ktapLine: "# klp-result ") == nil)
        #expect(ScenarioRecord.parse(ktapLine: "# klp-result {\"kernel\":\"x\"}") == nil)
        #expect(ScenarioRecord.parse(ktapLine: "# beta: 0.250 s wall, 0.000 s in 0 transition(s)") == nil)
        #expect(ScenarioRecord.parse(ktapLine: "ok 1 alpha") == nil)
    }
}
