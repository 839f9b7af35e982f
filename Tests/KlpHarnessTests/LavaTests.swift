import Foundation
import Testing
@testable import KlpHarness

/// The LAVA side, on dispatcher logs of real local jobs (lava-run 2023.01,
/// Debian's 6.1.0-57-amd64 under TCG, the callbacks group; two older ones
/// on 6.1.0-56; Fixtures/README.md says how each was made): reading the
/// records, one test case per scenario from each scenario's `# klp-result`
/// record, the wrong expectation as exactly one failed case with its diff,
/// the merge of two shards, and an incomplete job.
@Suite("LAVA: jobs, test cases and dispatcher logs")
struct LavaTests {
    static func log(_ name: String) throws -> LavaLog {
        LavaLog.parse(try Fixture.text(name, "log"))
    }

    /// The callbacks group's names, in suite order: the recorded LAVA runs
    /// in Fixtures/ ran those 11 scenarios.
    static func scenarioNames() throws -> [String] {
        try Repository.callbackScenarioFiles().map { try Repository.scenario($0.lastPathComponent).name }
    }

    // MARK: - The dispatcher's records

    @Test("a results record with YAML tags, nested mappings and escapes reads as its values")
    func flowRecord() throws {
        let line = #"{"dt": "2026-11-22T03:13:03.460146", "lvl": "results", "msg": {"case": "busy-target-module", "definition": "0_livepatch-callbacks", "endtc": ! "237", "measurement": ! "1.885", "result": "pass", "extra": {"list": [1, 'it''s', "a\"b\\c\n"]}, "units": seconds}}"#
        let value = try #require(YAMLFlow.parse(line[...]))
        guard case .mapping(let fields) = value, case .mapping(let message)? = fields["msg"] else {
            Issue.record("not a mapping: \(value)")
            return
        }
        #expect(fields["lvl"]?.text == "results")
        #expect(message["endtc"]?.text == "237")
        #expect(message["measurement"]?.text == "1.885")
        #expect(message["units"]?.text == "seconds")
        guard case .mapping(let extra)? = message["extra"] else {
            Issue.record("extra is not a mapping")
            return
        }
        #expect(extra["list"] == .sequence([.scalar("1"), .scalar("it's"), .scalar("a\"b\\c\n")]))
    }

    @Test("lines that are not records are skipped; a cut-off record is counted, not fatal")
    func tolerance() throws {
        let text = """
            real\t0m51.823s
            - {"dt": "x", "lvl": "target", "msg": "ok 1 a"}
            {"dt": "x", "lvl": "target", "msg": "cut off
            {"dt": "x", "lvl": "results", "msg": {"case": "a", "definition": "0_x", "result": "pass"}}
            """
        let log = LavaLog.parse(text)
        #expect(log.records.count == 2)
        #expect(log.unreadableLines == 1)
        #expect(log.targetLines == ["ok 1 a"])
        #expect(log.testCases == [LavaLog.TestResult(definition: "0_x", name: "a", result: "pass")])
    }

    @Test("the dispatcher's escaped quotes are undone: a target line reads as the device printed it")
    func escapedQuotes() {
        // lava-dispatcher's ShellLogger logs each `"` as `\"`; a backslash
        // the device printed before a quote comes back too.
        #expect(LavaLog.deviceText(#"# klp-result {\"a\":\"b\\"c\"}"#) == #"# klp-result {"a":"b\"c"}"#)
        #expect(LavaLog.deviceText(#"no quotes \n here\"#) == #"no quotes \n here\"#)
    }

    // MARK: - Real jobs

    @Test("the callbacks group on 6.1: eleven test cases by scenario name, all pass, job complete")
    func passingJob() throws {
        let log = try Self.log("lava-run-6.1-pass")
        #expect(log.unreadableLines == 0)
        let cases = log.testCases
        #expect(cases.map(\.name) == (try Self.scenarioNames()))
        #expect(cases.allSatisfy { $0.result == "pass" && $0.units == "seconds" && ($0.measurement ?? 0) > 0 })
        #expect(Set(cases.map(\.definition)) == ["0_livepatch-callbacks"])
        #expect(log.job?.complete == true)
        let run = LavaRun(log: log)
        #expect(run.release == "6.1.0-57-amd64")
        #expect(run.plan == 11)
        #expect(run.otherCases.isEmpty)
        #expect(run.scenarios.map(\.lavaResult) == Array(repeating: "pass", count: 11))
        // Each case's lines sit between LAVA's start and end markers.
        let lines = log.targetLines
        for name in try Self.scenarioNames() {
            let start = try #require(lines.firstIndex(of: LavaCaseReporter.startMarker(name)))
            let end = try #require(lines.firstIndex(of: LavaCaseReporter.endMarker(name)))
            #expect(start < end)
            #expect(lines[start..<end].contains { $0.hasPrefix("ok ") && $0.hasSuffix(" \(name)") })
        }
    }

    @Test("one wrong expected line: exactly one failed test case, its diff (today's cram-style labels) in the merged diff.txt, the job still complete")
    func wrongExpectation() throws {
        let log = try Self.log("lava-run-6.1-wrong-expectation")
        let failed = log.testCases.filter { $0.result != "pass" }
        #expect(failed.map(\.name) == ["target-module-not-present"])
        #expect(failed.first?.result == "fail")
        #expect(log.testCases.count == 11)
        #expect(log.job?.complete == true)
        // The console shows the diff with the scenario file's own path as
        // its label, as a person reads it (cram style).
        #expect(log.targetLines.contains("# --- /klp/scenarios/05-target-module-not-present.scenario"))
        let run = LavaRun(log: log)
        let scenario = try #require(run.scenarios.first { $0.name == "target-module-not-present" })
        let entry = run.entry(for: scenario)
        let wrong = "-livepatch_callbacks_demo: post_patch_callback: vmlinux (deliberately wrong)"
        #expect(entry.status == .fail)
        #expect(entry.logExcerpt.contains(wrong))
        #expect(entry.logExcerpt.contains("+livepatch_callbacks_demo: post_patch_callback: vmlinux"))
        // The diff is the excerpt, not diagnostics.
        #expect(!entry.diagnostics.contains { $0.contains("deliberately wrong") })
        #expect(entry.transitions == 2)
        #expect(abs(entry.durationSeconds - (scenario.seconds ?? 0)) < 0.001)

        // The guest printed the failed scenario's files into the log; the
        // merge writes them back, so `show` and the HTML report have the
        // transcripts and the timeline.
        #expect(scenario.files["expected.txt"]?.contains("livepatch_callbacks_demo: post_patch_callback: vmlinux (deliberately wrong)") == true)
        #expect(scenario.files["actual.txt"]?.contains("livepatch_callbacks_demo: post_patch_callback: vmlinux") == true)
        #expect((scenario.files["kmsg.txt"]?.count ?? 0) > 10)
        #expect(run.scenarios.filter { !$0.files.isEmpty }.map(\.name) == ["target-module-not-present"])
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lava-wrong-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let documents = try LavaMerge.write([run], to: root)
        let release = try #require(documents.first?.kernel)
        let diff = try String(contentsOfFile: "\(root)/\(release)/target-module-not-present/diff.txt", encoding: .utf8)
        #expect(diff.split(separator: "\n").contains { $0 == wrong })
        let archive = try ResultsArchive.load(root)
        let artifacts = try #require(archive.kernels.first?.artifacts(of: "target-module-not-present"))
        #expect(artifacts.diff.render().contains(wrong))
        #expect(!artifacts.timeline.transitions.isEmpty)
    }

    @Test("shards 1/2 and 2/2 of real jobs merge into one results.json of the eleven scenarios in suite order")
    func shardMerge() throws {
        let runs = try ["lava-run-6.1-shard-1-of-2", "lava-run-6.1-shard-2-of-2"].map { LavaRun(log: try Self.log($0)) }
        #expect(runs.map { $0.shard?.index } == [1, 2])
        #expect(runs.map(\.scenarios.count) == [6, 5])
        let documents = LavaMerge.documents(runs)
        let document = try #require(documents.first)
        #expect(documents.count == 1)
        #expect(document.kernel == "6.1.0-57-amd64")
        #expect(document.complete)
        #expect(document.planned == 11)
        #expect(document.infrastructureError == nil)
        #expect(document.scenarios.map(\.name) == (try Self.scenarioNames()))
        #expect(document.scenarios.map(\.number) == Array(1...11))
        #expect(document.scenarios.allSatisfy { $0.status == .pass && $0.durationSeconds > 0 && $0.transitions > 0 })

        // The merged document renders as the runner's own would.
        let xml = JUnitReport.render(documents)
        #expect(xml.contains(#"tests="11" failures="0" errors="0" skipped="0""#))
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lava-merge-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileBytes.makeDirectories("\(root)/\(document.kernel)")
        try document.write(to: "\(root)/\(document.kernel)/results.json")
        let html = HTMLReport.render(try ResultsArchive.load(root))
        for name in try Self.scenarioNames() {
            #expect(html.contains(HTMLReport.sectionID(release: document.kernel, scenario: name)))
        }
    }

    @Test("a job that never reached its test shell is incomplete, with LAVA's reason, and has no scenario")
    func incompleteJob() throws {
        let log = try Self.log("lava-run-auto-login-timeout")
        #expect(log.job?.complete == false)
        #expect(log.job?.error == "auto-login-action timed out after 300 seconds")
        let run = LavaRun(log: log)
        #expect(run.scenarios.isEmpty)
        let document = try #require(LavaMerge.documents([run]).first)
        #expect(!document.complete)
        #expect(document.infrastructureError?.contains("auto-login-action timed out") == true)
    }

    @Test("bad input in the guest raises: the job is incomplete with the runner's reason, no scenario is a result")
    func badInputRaises() throws {
        let log = try Self.log("lava-run-6.1-bad-module")
        #expect(log.job?.complete == false)
        #expect(log.job?.error == "klp-harness run stopped before the scenarios: /klp/modules/livepatch-callbacks-demo.ko is not a kernel module (Exec format error)")
        #expect(log.testCases.isEmpty)
        #expect(LavaRun(log: log).scenarios.isEmpty)
    }

    @Test("a scenario the job ended in is a crash when the console shows one")
    func unfinishedScenario() throws {
        // The real passing log cut after the 9th scenario started, and a
        // kernel report appended, as the console shows a crash.
        let text = try Fixture.text("lava-run-6.1-pass", "log")
        let lines = text.split(separator: "\n").map(String.init)
        let start = try #require(lines.firstIndex { $0.contains(##""msg": "# starting 9 busy-target-module""##) })
        let crash = [
            #"{"dt": "x", "lvl": "target", "msg": "[   31.220000] BUG: kernel NULL pointer dereference, address: 0000000000000000"}"#,
            #"{"dt": "x", "lvl": "target", "msg": "[   31.220100] Kernel panic - not syncing: Fatal exception"}"#,
            #"{"dt": "x", "lvl": "results", "msg": {"case": "job", "definition": "lava", "error_msg": "Connection closed", "error_type": "Infrastructure", "result": "fail"}}"#,
        ]
        let run = LavaRun(log: LavaLog.parse((lines[...start] + crash).joined(separator: "\n")))
        let scenario = try #require(run.scenarios.last)
        #expect(scenario.name == "busy-target-module")
        #expect(!scenario.finished)
        let entry = run.entry(for: scenario)
        #expect(entry.status == .crash)
        #expect(entry.diagnostics.first?.hasPrefix("kernel crashed: BUG: kernel NULL pointer dereference") == true)
        #expect(run.job?.complete == false)
    }

    // MARK: - Inside the guest

    @Test("the runner's KTAP becomes one test case per scenario, its result and wall time from the scenario's record, with LAVA's markers")
    func reporter() throws {
        var reporter = LavaCaseReporter(planned: try Self.scenarioNames())
        var steps: [LavaCaseReporter.Step] = []
        // What the guest printed in a real passing job: the runner's
        // `# starting` lines, records and KTAP, and LAVA's own lines,
        // which the reporter passes through.
        let log = try Self.log("lava-run-6.1-pass")
        let runner = log.targetLines.filter { !$0.contains("<LAVA_SIGNAL_") }
        for line in runner { steps += reporter.consume(line) }
        steps += reporter.finish()
        let cases = steps.compactMap { step -> LavaTestCase? in
            if case .record(let testCase) = step { return testCase }
            return nil
        }
        #expect(cases.map(\.name) == (try Self.scenarioNames()))
        #expect(cases.allSatisfy { $0.result == .pass })
        // The measurement LAVA recorded in that job came from the same record.
        let busy = try #require(cases.first { $0.name == "busy-target-module" })
        let recorded = try #require(log.testCases.first { $0.name == "busy-target-module" }?.measurement)
        #expect(busy.arguments == ["busy-target-module", "--result", "pass", "--measurement", String(format: "%.3f", recorded), "--units", "seconds"])
        #expect(reporter.unreported.isEmpty)
        let printed = steps.compactMap { step -> String? in
            if case .print(let line) = step { return line }
            return nil
        }
        let start = try #require(printed.firstIndex(of: "<LAVA_SIGNAL_STARTTC busy-target-module>"))
        let end = try #require(printed.firstIndex(of: "<LAVA_SIGNAL_ENDTC busy-target-module>"))
        #expect(printed[start..<end].contains { $0.hasPrefix("ok ") && $0.hasSuffix(" busy-target-module") })
        #expect(printed[start..<end].contains { ScenarioRecord.parse(ktapLine: $0)?.result.name == "busy-target-module" })
    }

    @Test("the record decides the test case, not the prose: a crash and a timeout are failed cases with their measurement, a skip is a skip")
    func reporterReadsTheRecord() {
        func record(_ name: String, _ status: ScenarioStatus, _ seconds: Double) -> String {
            ScenarioRecord(kernel: "6.1.0-57-amd64", result: ResultsDocument.Entry(
                number: 1, name: name, status: status, durationSeconds: seconds, transitionSeconds: 0, transitions: 0,
                diagnostics: ["\(name): 9.999 s wall, 0.000 s in 0 transition(s)"], logExcerpt: [], artifacts: [:])).ktapLine
        }
        var reporter = LavaCaseReporter(planned: ["a", "b", "c"])
        var recorded: [LavaTestCase] = []
        var attached: [String] = []
        let feed: (String) -> Void = { line in
            for step in reporter.consume(line) {
                if case .record(let testCase) = step { recorded.append(testCase) }
                if case .attach(let name) = step { attached.append(name) }
            }
        }
        // The prose says 9.999 s; the record says otherwise, and wins.
        ["# starting 1 a", "# a: 9.999 s wall, 0.400 s in 1 transition(s)", record("a", .crash, 0.5), "not ok 1 a",
         "# starting 2 b", record("b", .timeout, 60.25), "not ok 2 b # TIMEOUT 60 seconds",
         "# starting 3 c", record("c", .skip, 0.001), "ok 3 c # SKIP needs Linux 6.11"].forEach(feed)
        #expect(recorded == [LavaTestCase(name: "a", result: .fail, seconds: 0.5),
                             LavaTestCase(name: "b", result: .fail, seconds: 60.25),
                             LavaTestCase(name: "c", result: .skip, seconds: 0.001)])
        #expect(attached == ["a", "b"])
    }

    @Test("a failure, a timeout and a whole-suite skip become fail, fail and skip")
    func reporterOutcomes() {
        var reporter = LavaCaseReporter(planned: ["a", "b"])
        var recorded: [LavaTestCase] = []
        let feed: (String) -> Void = { line in
            for case .record(let testCase) in reporter.consume(line) { recorded.append(testCase) }
        }
        ["# starting 1 a", "# a: 0.500 s wall, 0.400 s in 1 transition(s)", "not ok 1 a",
         "# starting 2 b", "not ok 2 b # TIMEOUT 60 seconds"].forEach(feed)
        // Without records (a runner that predates them): KTAP's words, no measurement.
        #expect(recorded == [LavaTestCase(name: "a", result: .fail), LavaTestCase(name: "b", result: .fail)])

        var skipped = LavaCaseReporter(planned: ["a", "b"])
        _ = skipped.consume("KTAP version 1")
        _ = skipped.consume("1..0 # SKIP not root")
        let steps = skipped.finish()
        #expect(steps == [.record(LavaTestCase(name: "a", result: .skip)), .record(LavaTestCase(name: "b", result: .skip))])
    }

    // MARK: - The job and the image

    @Test("the job template's fields are filled in; an unknown field is bad input")
    func template() throws {
        let template = try String(contentsOf: Repository.root.appendingPathComponent("lava/qemu-job.yaml"), encoding: .utf8)
        let values = Dictionary(uniqueKeysWithValues: LavaJob.fields.map { ($0, "<\($0)>") })
        let job = try LavaJob.render(template, values: values, templatePath: "lava/qemu-job.yaml")
        #expect(!job.contains("{{"))
        #expect(job.contains("url: \"<RAMDISK_URL>\""))
        #expect(job.contains("--timeout <SCENARIO_TIMEOUT><SHARD_OPTION>"))
        #expect(throws: HarnessError.self) {
            try LavaJob.render("a {{ NOPE }} b", values: values, templatePath: "t")
        }
        #expect(throws: HarnessError.self) {
            try LavaJob.render("a {{ JOB_NAME b", values: values, templatePath: "t")
        }
    }

    @Test("the LAVA image has a getty on ttyS0, a passwordless root and the prompt the job waits for")
    func lavaImage() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lava-image-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for folder in ["modules", "scenarios"] { try FileBytes.makeDirectories("\(directory)/\(folder)") }
        try FileBytes.write("#!/bin/sh\n", to: "\(directory)/runner")
        try FileBytes.write("busybox\n", to: "\(directory)/busybox")
        let contents = GuestImage.Contents(runner: "\(directory)/runner", busybox: "\(directory)/busybox",
                                           modules: "\(directory)/modules", scenarios: "\(directory)/scenarios")
        _ = try GuestImage.build(contents, libraries: [], flavor: .lava, to: "\(directory)/image.cpio")
        let text = String(decoding: try FileBytes.read("\(directory)/image.cpio"), as: UTF8.self)
        #expect(text.contains("ttyS0::respawn:/bin/getty -L 115200 ttyS0 vt100"))
        #expect(text.contains("root::0:0:root:/root:/bin/sh"))
        #expect(text.contains("export PS1='\(GuestImage.lavaPrompt)'"))
        #expect(text.contains("cat /proc/version"))
        #expect(text.contains("exec /bin/init"))
        #expect(!text.contains("klp/boot.conf"))
        let job = try String(contentsOf: Repository.root.appendingPathComponent("lava/qemu-job.yaml"), encoding: .utf8)
        #expect(job.contains("- '{{ PROMPT }}'"))
    }
}

extension LavaTests {
    @Test("tuxrun's YAML log: the same records as a list; the scenarios as test cases inside its one 'command' case")
    func tuxrunLog() throws {
        let log = LavaLog.parse(try Fixture.text("tuxrun-6.1-pass", "yaml"))
        #expect(log.unreadableLines == 0)
        #expect(log.job?.complete == true)
        let run = LavaRun(log: log)
        #expect(run.release == "6.1.0-57-amd64")
        #expect(run.scenarios.map(\.name) == (try Self.scenarioNames()))
        #expect(run.scenarios.allSatisfy { $0.lavaResult == "pass" && ($0.seconds ?? 0) > 0 })
        #expect(run.otherCases.map(\.name) == ["command"])
        #expect(run.otherCases.first?.definition == "0_commands")
    }
}

extension LavaTests {
    @Test("several jobs: a failing scenario anywhere wins over an incomplete job elsewhere, as over kernels in 'vm'")
    func overallStatus() {
        #expect(ExitStatus.overall([.passed, .infrastructure, .failed]) == .failed)
        #expect(ExitStatus.overall([.passed, .infrastructure]) == .infrastructure)
        #expect(ExitStatus.overall([.passed, .passed]) == .passed)
    }

    @Test("a scenario that finished without a record is an error that says so, never a result rebuilt from prose")
    func finishedWithoutRecord() throws {
        let text = """
            {"dt": "x", "lvl": "target", "msg": "1..1"}
            {"dt": "x", "lvl": "target", "msg": "# starting 1 a"}
            {"dt": "x", "lvl": "target", "msg": "# a: 1.500 s wall, 0.400 s in 1 transition(s)"}
            {"dt": "x", "lvl": "target", "msg": "ok 1 a"}
            {"dt": "x", "lvl": "results", "msg": {"case": "a", "definition": "0_x", "result": "pass", "measurement": "1.500", "units": "seconds"}}
            {"dt": "x", "lvl": "results", "msg": {"case": "job", "definition": "lava", "result": "pass"}}
            """
        let run = LavaRun(log: LavaLog.parse(text))
        #expect(run.release == nil)
        let entry = run.entry(for: try #require(run.scenarios.first))
        #expect(entry.status == .error)
        #expect(entry.transitions == 0)
        #expect(entry.diagnostics.first?.hasPrefix("no '# klp-result' record") == true)
    }
}

extension LavaTests {
    @Test("lava-test-cases with scenarios it cannot read calls lava-test-raise with the reason and records no test case")
    func unreadableScenariosRaise() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lava-shell-\(UUID().uuidString)").path
        try FileBytes.makeDirectories(directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Stand-ins for LAVA's helpers: each writes its arguments to a file.
        for helper in ["lava-test-case", "lava-test-raise"] {
            try FileBytes.write("#!/bin/sh\necho \"$*\" >> \(directory)/\(helper).called\n", to: "\(directory)/\(helper)")
            chmod("\(directory)/\(helper)", 0o755)
        }
        let options = SuiteRunner.Options(modules: directory, scenarios: "\(directory)/no-such-folder", results: "\(directory)/results")
        let printed = Printed()
        let shell = try LavaTestShell(suite: options, lavaTestCase: "\(directory)/lava-test-case", lavaTestRaise: "\(directory)/lava-test-raise",
                                      output: { printed.append($0) }, log: { printed.append($0) })
        #expect(throws: (any Error).self) { try shell.run() }
        let raised = try String(contentsOfFile: "\(directory)/lava-test-raise.called", encoding: .utf8)
        #expect(raised.hasPrefix("klp-harness: the scenarios cannot be read:"))
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/lava-test-case.called"))
    }

    @Test("outside a LAVA test shell (no helpers on PATH) lava-test-cases is bad input that says what to use instead")
    func noHelpers() {
        let options = SuiteRunner.Options(modules: "kmod", scenarios: "scenarios", results: "results")
        #expect(throws: HarnessError.self) {
            try LavaTestShell(suite: options, lavaTestCase: "klp-no-such-lava-test-case", lavaTestRaise: "klp-no-such-lava-test-raise",
                              output: { _ in }, log: { _ in })
        }
    }
}

/// Lines a closure collects.
final class Printed: @unchecked Sendable {
    private(set) var lines: [String] = []
    func append(_ line: String) { lines.append(line) }
}
