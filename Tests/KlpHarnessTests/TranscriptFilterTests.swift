import Testing
@testable import KlpHarness

@Suite("TranscriptFilter: from kernel-log records to a transcript")
struct TranscriptFilterTests {
    let filter = TranscriptFilter(modules: Fixture.moduleNames)

    @Test("the records of a real run reproduce the scenario's transcript", arguments: [
        ("09-busy-target-module.scenario", "busy-target-module"),
        ("06-pre-patch-callback-enodev.scenario", "pre-patch-callback-enodev"),
    ])
    func reproducesExpectedTranscript(file: String, name: String) throws {
        let scenario = try Repository.scenario(file)
        #expect(scenario.name == name)
        let window = try Fixture.transcriptWindow(of: name, in: try Fixture.rawKmsgRecords())
        let actual = filter.transcript(from: window, harnessLines: scenario.harnessLines)
        #expect(actual == scenario.transcript)
    }

    @Test func theWholeDumpGivesBothTranscriptsInRunOrder() throws {
        // Boot messages, virtme's own lines and the taint notices all drop out.
        let enodev = try Repository.scenario("06-pre-patch-callback-enodev.scenario")
        let busy = try Repository.scenario("09-busy-target-module.scenario")
        let actual = filter.transcript(from: try Fixture.rawKmsgRecords(),
                                       harnessLines: enodev.harnessLines.union(busy.harnessLines))
        #expect(actual == enodev.transcript + busy.transcript)
    }

    @Test func theResultsFolderKmsgFiltersToItsActualTranscript() throws {
        // The real run's busy-target-module folder: kmsg.txt keeps every
        // record as dmesg shows it, which drops the facility; the harness's
        // lines are the user-space ones (facility 1, LOG_USER).
        let scenario = try Repository.scenario("09-busy-target-module.scenario")
        let records = try Fixture.lines("busy-target-module-kmsg", "txt").enumerated().map { index, line in
            var record = try #require(KmsgRecord(dmesgLine: line[...], sequence: UInt64(index)))
            if scenario.harnessLines.contains(record.message) || record.message.hasPrefix("klp-harness[") {
                record.facility = 1
            }
            return record
        }
        let window = try Fixture.transcriptWindow(of: "busy-target-module", in: records)
        let actual = filter.transcript(from: window, harnessLines: scenario.harnessLines)
        #expect(actual == (try Fixture.lines("busy-target-module-actual", "txt")))
        #expect(actual == scenario.transcript)
    }

    @Test func taintNoticesAreDropped() throws {
        let records = try Fixture.rawKmsgRecords()
        let taints = records.filter { $0.message.contains("taint") }
        #expect(taints.map(\.message) == [
            "livepatch_callbacks_mod: loading out-of-tree module taints kernel.",
            "livepatch_callbacks_mod: module verification failed: signature and/or required key missing - tainting kernel",
            "livepatch_callbacks_demo: tainting kernel with TAINT_LIVEPATCH",
        ])
        for record in taints {
            #expect(record.isFromKernel)
            #expect(!filter.keepsKernelLine(record.message))
        }
        #expect(filter.transcript(from: taints, harnessLines: []) == [])
    }

    @Test func otherModulesLinesAreDropped() throws {
        let records = try Fixture.rawKmsgRecords()
        for message in [
            "cdrom: Uniform CD-ROM driver Revision: 3.20",
            "kvm: Nested Virtualization enabled",
            "SVM: kvm: Nested Paging enabled",
            "powernow_k8: Power state transitions not supported",
            "rcu: Preemptible hierarchical RCU implementation.",
        ] {
            let record = try #require(records.first { $0.message == message })
            #expect(record.isFromKernel)
            #expect(!filter.keepsKernelLine(message))
            #expect(filter.transcript(from: [record], harnessLines: []) == [])
        }
        // A line of a test module is kept only if the module is one of ours.
        let line = "livepatch_callbacks_mod: livepatch_callbacks_mod_init"
        #expect(filter.keepsKernelLine(line))
        #expect(!TranscriptFilter(modules: ["livepatch_callbacks_demo"]).keepsKernelLine(line))
    }

    @Test func otherUserspaceLinesAreDropped() throws {
        let records = try Fixture.rawKmsgRecords()
        let user = records.filter { !$0.isFromKernel }
        // virtme-ng-init's lines and the harness's own markers.
        let foreign = user.filter { !$0.message.hasPrefix("% ") && !$0.message.hasPrefix("insmod: ERROR: ") }
        #expect(foreign.count == 11)
        #expect(foreign.contains { $0.message == "virtme-ng-init: udev is done" })
        #expect(foreign.contains { $0.message == "klp-harness[241]: begin busy-target-module #4" })
        let everything = Set(records.map(\.message))
        #expect(filter.transcript(from: foreign, harnessLines: []) == [])
        // A user-space record is kept only when the harness wrote exactly that line …
        let action = try #require(user.first { $0.message == "% insmod livepatch-callbacks-mod.ko" })
        #expect(filter.transcript(from: [action], harnessLines: []) == [])
        #expect(filter.transcript(from: [action], harnessLines: everything) == [action.message])
        // … and a kernel record is never kept just because its text is in harnessLines.
        let cdrom = try #require(records.first { $0.message.hasPrefix("cdrom: ") })
        #expect(filter.transcript(from: [cdrom], harnessLines: everything) == [])
    }

    @Test func livepatchCoreLinesAreKept() throws {
        let records = try Fixture.rawKmsgRecords()
        let core = records.filter { $0.message.hasPrefix("livepatch: ") }
        #expect(core.count == 16)
        #expect(filter.transcript(from: core, harnessLines: []) == core.map(\.message))
        // Whatever the module set: they are the livepatch core's, not a module's.
        #expect(TranscriptFilter(modules: []).transcript(from: core, harnessLines: []) == core.map(\.message))
    }

    @Test func recordOrderIsKept() throws {
        let window = try Fixture.transcriptWindow(of: "busy-target-module", in: try Fixture.rawKmsgRecords())
        let scenario = try Repository.scenario("09-busy-target-module.scenario")
        let kept = window.filter {
            !filter.transcript(from: [$0], harnessLines: scenario.harnessLines).isEmpty
        }
        #expect(zip(kept, kept.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
        #expect(kept.count == scenario.transcript.count)
    }
}

/// The `grep` action's lines (issue 16): the runner writes them into
/// /dev/kmsg, so they are user-space records, kept because the runner wrote
/// them, in the order the log holds them.
@Suite("TranscriptFilter: the lines a grep action writes")
struct GrepTranscriptTests {
    static let scenarioText = """
        % insmod livepatch-callbacks-demo.ko
        % grep 'MemTotal' /proc/meminfo
        % grep 'no line has this text' /proc/cmdline
        % grep 'Huge' /proc/meminfo
        % echo 0 > /sys/kernel/livepatch/livepatch_callbacks_demo/enabled
        % rmmod livepatch_callbacks_demo
        """

    let filter = TranscriptFilter(modules: Fixture.moduleNames)

    /// What the engine adds to the harness lines: the action lines, and for
    /// each grep what ProcFile finds in the guest's /proc/meminfo of that run.
    func harnessLines(_ scenario: Scenario, meminfo: String) -> Set<String> {
        var lines = Set(scenario.steps.map(\.logLine))
        for case .grep(let text, .meminfo) in scenario.steps.map(\.action) {
            lines.formUnion(ProcFile.lines(of: meminfo, containing: text))
        }
        return lines
    }

    @Test func grepLinesComeBetweenTheirActionLineAndTheNext() throws {
        let scenario = try ScenarioParser.parse(Self.scenarioText, path: "x/01-grep-lines.scenario")
        let records = try Fixture.rawKmsgRecords("kmsg-grep-lines")
        let meminfo = try Fixture.text("meminfo-grep-lines", "txt")
        let actual = filter.transcript(from: records, harnessLines: harnessLines(scenario, meminfo: meminfo))
        let huge = ProcFile.lines(of: meminfo, containing: "Huge")
        #expect(huge.count == 9)
        let grepMemTotal = try #require(actual.firstIndex(of: "% grep 'MemTotal' /proc/meminfo"))
        let after = Array(actual[(grepMemTotal + 1)...])
        let memTotal = try #require(ProcFile.lines(of: meminfo, containing: "MemTotal").first)
        // No match writes nothing: the next action line follows at once.
        let expected: [String] = [memTotal, "% grep 'no line has this text' /proc/cmdline", "% grep 'Huge' /proc/meminfo"]
            + huge + ["% echo 0 > /sys/kernel/livepatch/livepatch_callbacks_demo/enabled"]
        #expect(Array(after.prefix(expected.count)) == expected)
        // They are user-space records, as the kernel's `grep … > /dev/kmsg` makes them.
        let grepRecords = records.filter { huge.contains($0.message) || $0.message.hasPrefix("MemTotal: ") }
        #expect(grepRecords.count == huge.count + 1)
        #expect(grepRecords.allSatisfy { !$0.isFromKernel })
    }

    @Test func aUserLineTheRunnerDidNotWriteIsDropped() throws {
        let scenario = try ScenarioParser.parse(Self.scenarioText, path: "x/01-grep-lines.scenario")
        var records = try Fixture.rawKmsgRecords("kmsg-grep-lines")
        let meminfo = try Fixture.text("meminfo-grep-lines", "txt")
        let lines = harnessLines(scenario, meminfo: meminfo)
        // The line of a test livepatch, as /proc/cmdline shows it patched,
        // written into the log by the runner's grep: kept; the same text
        // from another writer (not in harnessLines): dropped, although it
        // starts with a test module's name.
        let index = try #require(records.firstIndex { $0.message.hasPrefix("MemTotal: ") })
        let patched = "livepatch_callbacks_demo: this has been live patched"
        records[index].message = patched
        #expect(filter.transcript(from: records, harnessLines: lines.union([patched])).contains(patched))
        #expect(!filter.transcript(from: records, harnessLines: lines).contains(patched))
        #expect(!filter.transcript(from: records, harnessLines: Set(scenario.steps.map(\.logLine))).contains { $0.hasPrefix("MemTotal: ") })
    }
}
