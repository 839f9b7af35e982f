import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import KlpHarness

/// Records the kernel's log ring overwrote before the runner read them: found
/// by their sequence numbers, and reported as lost, never as a mismatch.
@Suite("Lost kernel-log records")
struct KmsgLossTests {
    static let echo = "% echo N > /sys/module/livepatch_callbacks_busymod/parameters/block_transition"

    /// The start of a 2,000-write scenario on 6.1 under TCG, as /dev/kmsg
    /// handed it to a runner that read only at its markers: after the start
    /// marker (record 611) the ring had overwritten the insmod, the module's
    /// three lines and the first 514 writes, 518 records (612–1129).
    static let wrapped = [
        "14,611,33933108,-;klp-harness[87]: begin many-parameter-writes #1",
        "14,1130,37909888,-;\(echo)",
        "14,1131,37910168,-;\(echo)",
        "14,1132,37910439,-;\(echo)",
    ]

    func records(_ lines: [String]) throws -> [KmsgRecord] {
        try lines.map { try #require(KmsgRecord(kmsg: $0[...])) }
    }

    @Test func consecutiveRecordsLoseNothing() throws {
        var sequence = KmsgSequence()
        // The first record read opens the count, whatever its number: the
        // records before it were gone before the reader opened the log.
        for record in try records(["6,5000,1,-;a", "6,5001,2,-;b", "14,5002,3,-;c"]) {
            #expect(sequence.note(record) == nil)
        }
        #expect(sequence.gaps.isEmpty)
        #expect(sequence.lostRecords == 0)
        #expect(sequence.last == 5002)
    }

    @Test func aJumpInSequenceNumbersIsAGap() throws {
        var sequence = KmsgSequence()
        let noted = try records(Self.wrapped).map { sequence.note($0) }
        #expect(noted == [nil, KmsgGap(after: 611, before: 1130), nil, nil])
        #expect(sequence.lostRecords == 518)
        #expect(sequence.gaps.first?.range == "records 612–1129")
        #expect(KmsgGap(after: 7, before: 9).range == "record 8")
    }

    @Test func gapsSinceASnapshot() throws {
        var sequence = KmsgSequence()
        let all = try records(["6,10,1,-;a", "6,13,2,-;b", "6,14,3,-;c", "6,20,4,-;d"])
        sequence.note(all[0])
        sequence.note(all[1])
        let snapshot = sequence
        sequence.note(all[2])
        sequence.note(all[3])
        #expect(sequence.gaps(since: snapshot) == [KmsgGap(after: 14, before: 20)])
        #expect(sequence.lostRecords == 2 + 5)
    }

    // MARK: The scenario's verdict

    static let expected = ["% insmod livepatch-callbacks-busymod.ko",
                           "livepatch_callbacks_busymod: livepatch_callbacks_busymod_init",
                           echo, echo, echo]

    @Test func lostRecordsAreAnErrorNotAFailedTranscript() throws {
        let records = try records(Self.wrapped)
        var sequence = KmsgSequence()
        records.forEach { sequence.note($0) }
        var diagnostics: [String] = []
        let status = ScenarioEngine.judge(.passed, actual: [Self.echo, Self.echo, Self.echo], expected: Self.expected,
                                          lost: sequence.gaps, records: records, diagnostics: &diagnostics)
        let headline = "the kernel log lost 518 records during this scenario (the ring buffer wrapped before the runner read it): the transcript cannot be judged"
        #expect(status == .error(headline))
        #expect(ScenarioStatus(status) == .error)
        #expect(diagnostics.first == headline)
        #expect(diagnostics.last == "missing: records 612–1129 after 'klp-harness[87]: begin many-parameter-writes #1' before '\(Self.echo)'; "
            + "if one action prints more than the ring holds, boot with a larger one: klp-harness vm --append log_buf_len=4M")
    }

    @Test func withoutLossTheTranscriptDecides() {
        var diagnostics: [String] = []
        #expect(ScenarioEngine.judge(.passed, actual: [Self.echo], expected: Self.expected, lost: [], records: [], diagnostics: &diagnostics) == .failed)
        #expect(ScenarioEngine.judge(.passed, actual: Self.expected, expected: Self.expected, lost: [], records: [], diagnostics: &diagnostics) == .passed)
        #expect(diagnostics.isEmpty)
    }

    @Test func aStatusTheStepsDecidedStandsWithTheNote() {
        var diagnostics: [String] = []
        let timedOut = ScenarioResult.Status.timedOut(limit: .seconds(60), condition: "x")
        let gap = [KmsgGap(after: 1, before: 5)]
        #expect(ScenarioEngine.judge(timedOut, actual: [], expected: Self.expected, lost: gap, records: [], diagnostics: &diagnostics) == timedOut)
        #expect(diagnostics.first?.hasPrefix("the kernel log lost 3 records during this scenario") == true)
        #expect(diagnostics.last == "missing: records 2–4; if one action prints more than the ring holds, boot with a larger one: klp-harness vm --append log_buf_len=4M")
    }

    @Test func noDiffIsShownForATranscriptWithLostRecords() throws {
        let scenario = try ScenarioParser.parse(Self.expected.joined(separator: "\n"), path: "scenarios/01-many.scenario")
        var result = ScenarioResult(scenario: scenario, status: .error("lost"), actual: [Self.echo], records: [],
                                    wallTime: .seconds(1), transitions: [], diagnostics: ["the kernel log lost 518 records"])
        #expect(result.showsDiff)
        #expect(result.diffFileLines.contains { $0.hasPrefix("@@") })
        result.lostRecords = 518
        #expect(!result.showsDiff)
        #expect(result.diffFileLines == ["# the kernel log lost 518 records"])
        var lines: [String] = []
        KTAPReport { lines.append($0) }.result(result, record: ScenarioRecord(kernel: "6.1.0-57-amd64", result: .init(result, number: 1)))
        #expect(!lines.contains { $0.hasPrefix("# @@") || $0.hasPrefix("# -") })
        #expect(lines.contains("# the kernel log lost 518 records"))
        var document = ResultsDocument(kernel: "6.1.0-57-amd64", planned: 1)
        document.append(result, number: 1)
        #expect(document.scenarios.first?.logExcerpt == [])
        #expect(document.scenarios.first?.status == .error)
    }

    // MARK: vm --append

    @Test func appendedArgumentsFollowTheHarnessOwn() throws {
        let extra = try QemuLauncher.validatedExtraArguments("  log_buf_len=4M printk.devkmsg=on ")
        #expect(extra == "log_buf_len=4M printk.devkmsg=on")
        let launcher = QemuLauncher(accelerator: .tcg, cpus: 1, memory: "1G", extraKernelArguments: extra)
        let arguments = launcher.arguments(kernel: "k", initrd: "i", consoleLog: "c", channel: "r")
        let index = try #require(arguments.firstIndex(of: "-append"))
        #expect(arguments[index + 1] == "\(QemuLauncher.kernelArguments) log_buf_len=4M printk.devkmsg=on")
        let plain = QemuLauncher(accelerator: .tcg, cpus: 1, memory: "1G")
        #expect(plain.kernelCommandLine == QemuLauncher.kernelArguments)
    }

    @Test("bad --append is bad input with a hint", arguments: [
        ("log_buf_len=4M\ninit=/bin/sh", "--append has a control character (U+000A); the kernel command line is one line"),
        ("a\tb", "--append has a control character (U+0009); the kernel command line is one line"),
        (String(repeating: "x", count: 2000), "--append is 2000 bytes; the kernel command line has room for"),
    ])
    func badAppend(text: String, problem: String) {
        do {
            _ = try QemuLauncher.validatedExtraArguments(text)
            Issue.record("accepted \(text.prefix(20))")
        } catch {
            #expect(error.status == .badInput)
            #expect(error.problem.hasPrefix(problem), "\(error.problem)")
            #expect(error.remedy != nil)
        }
    }
}

/// The reader itself notes every record's sequence number: fed one record
/// per read through a FIFO, as /dev/kmsg hands out one per read(2).
@Suite("KmsgReader counts lost records")
struct KmsgReaderLossTests {
    @Test func aJumpReadFromTheDeviceIsCounted() throws {
        let fifo = "/tmp/klp-harness-kmsg-test-\(getpid())"
        unlink(fifo)
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let reader = try KmsgReader(path: fifo)
        let writer = open(fifo, O_WRONLY | O_NONBLOCK)
        #expect(writer >= 0)
        defer { close(writer) }
        var read: [UInt64] = []
        for line in KmsgLossTests.wrapped {
            _ = line.withCString { Glibc.write(writer, $0, strlen($0)) }
            read += try reader.readAvailable().map(\.sequence)
        }
        #expect(read == [611, 1130, 1131, 1132])
        #expect(reader.lostRecords == 518)
        #expect(reader.sequence.gaps == [KmsgGap(after: 611, before: 1130)])
    }
}
