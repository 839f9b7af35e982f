import Foundation
import Testing
@testable import KlpHarness

/// Crash and warning detection on real kernel output: the fixture is a 6.1
/// guest's log around `insmod livepatch-callbacks-crash.ko crash=warn`.
@Suite("KernelTrouble: a WARN, BUG or oops fails the scenario")
struct KernelTroubleTests {
    @Test func aRealWarningIsFoundWithItsHeadlineAndExcerpt() throws {
        let records = try Fixture.rawKmsgRecords("kmsg-crash-warn")
        let trouble = try #require(KernelTrouble.crash(in: records))
        #expect(trouble.headline.hasPrefix("kernel crashed: WARNING: CPU: 0 PID: 245 at "))
        #expect(trouble.headline.contains("livepatch-callbacks-crash.c:28 pre_patch_callback+0x3b/0xffb [livepatch_callbacks_crash]"))
        #expect(trouble.excerpt.first?.hasSuffix("] ------------[ cut here ]------------") == true)
        #expect(trouble.excerpt[1].hasSuffix("] livepatch_callbacks_crash: warning on request"))
        #expect(trouble.excerpt.contains { $0.hasSuffix("] ---[ end trace 0000000000000000 ]---") })
        #expect(trouble.excerpt.count <= KernelCrash.excerptLimit)
    }

    @Test func theLogBeforeTheWarningIsClean() throws {
        let records = try Fixture.rawKmsgRecords("kmsg-crash-warn")
        let cut = try #require(records.firstIndex { $0.message == KernelCrash.cutHere })
        #expect(KernelTrouble.crash(in: Array(records[..<cut])) == nil)
        // The runner's own lines come from user space and never count.
        let ours = KmsgRecord(sequence: 1, timestamp: 1, facility: 1, level: 6, message: "BUG: in a scenario line")
        #expect(KernelTrouble.crash(in: [ours]) == nil)
    }

    @Test func aPassingRunsLogHasNoTrouble() throws {
        #expect(KernelTrouble.crash(in: try Fixture.rawKmsgRecords()) == nil)
    }

    @Test func taintComparedWithTheScenariosStart() {
        // Measured in the guest: 0 before insmod crash=warn, 45568 after (W O E K).
        #expect(KernelTrouble.newTaint(before: 0, after: 45568) == "W")
        // Loading our unsigned out-of-tree livepatches alone is no trouble.
        #expect(KernelTrouble.newTaint(before: 0, after: 4096 | 8192 | 32768) == nil)
        // W stays for the rest of the boot: a later scenario is not blamed.
        #expect(KernelTrouble.newTaint(before: 45568, after: 45568) == nil)
        #expect(KernelTrouble.newTaint(before: 45568, after: 45568 | 128) == "D")
        let trouble = KernelTrouble.find(in: [], taintBefore: 0, taintAfter: 45568)
        #expect(trouble?.headline == "kernel tainted: W (/proc/sys/kernel/tainted 0 -> 45568)")
    }

    @Test func aCrashReportsAsNotOkWithItsExcerptEverywhere() throws {
        let scenario = try ScenarioParser.parse("% insmod livepatch-callbacks-crash.ko crash=warn\n", path: "scenarios/01-crash.scenario")
        let records = try Fixture.rawKmsgRecords("kmsg-crash-warn")
        let trouble = try #require(KernelTrouble.crash(in: records))
        var result = ScenarioResult(scenario: scenario, status: .crashed(trouble.headline), actual: scenario.transcript,
                                    records: records, wallTime: .seconds(1), transitions: [], diagnostics: [trouble.headline])
        result.crashExcerpt = trouble.excerpt
        var lines: [String] = []
        KTAPReport { lines.append($0) }.result(result, record: ScenarioRecord(kernel: "6.1.0-56-amd64", result: .init(result, number: 3)))
        #expect(lines.last == "not ok 3 crash")
        // The record carries the crash as data: no reader looks for a "kernel crashed:" prefix.
        let record = try #require(ScenarioRecord.parse(ktapLine: lines[lines.count - 2]))
        #expect(record.result.status == .crash)
        #expect(record.result.logExcerpt.first == trouble.excerpt[0])
        #expect(lines.first == "# " + trouble.headline)
        #expect(StatusTally([ScenarioStatus(result.status)]).failures == 1)
        #expect(result.diffFileLines.prefix(2) == ["# " + trouble.headline, trouble.excerpt[0]])
        var document = ResultsDocument(kernel: "6.1.0-56-amd64", planned: 1)
        document.append(result, number: 3)
        #expect(document.scenarios[0].status == .crash)
        #expect(document.scenarios[0].logExcerpt.first == trouble.excerpt[0])
        let junit = JUnitReport.render([document])
        #expect(junit.contains(#"<failure type="crash" message="kernel crashed: WARNING: CPU: 0 PID: 245"#))
        #expect(junit.contains(#"failures="1""#))
        #expect(HTMLReport.label(.crash) == "✗ CRASH")
    }
}
