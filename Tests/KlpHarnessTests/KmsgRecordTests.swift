import Testing
@testable import KlpHarness

@Suite("KmsgRecord: /dev/kmsg records and dmesg lines")
struct KmsgRecordTests {
    /// The fixture record whose sequence number is `sequence`.
    func record(_ sequence: UInt64) throws -> KmsgRecord {
        try #require(try Fixture.rawKmsgRecords().first { $0.sequence == sequence })
    }

    // MARK: Raw records

    @Test func everyRecordOfTheRawFixtureParses() throws {
        let chunks = try Fixture.rawKmsgChunks()
        #expect(chunks.count == 84)
        let records = chunks.compactMap { KmsgRecord(kmsg: $0[...]) }
        #expect(records.count == chunks.count)
        // The dump is in log order: sequence numbers and timestamps never go back.
        #expect(zip(records, records.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
        #expect(zip(records, records.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp })
    }

    @Test func kernelRecordFields() throws {
        // 6,512,56422022,-;livepatch: 'livepatch_callbacks_demo': … is level 7 (debug)
        let record = try record(512)
        #expect(record.sequence == 512)
        #expect(record.timestamp == 56_422_022)
        #expect(record.facility == 0)
        #expect(record.level == 7)
        #expect(record.isFromKernel)
        #expect(record.message == "livepatch: 'livepatch_callbacks_demo': initializing patching transition")
    }

    @Test("priority splits into facility and level", arguments: [
        // (sequence, facility, level): 5 notice, 4 warning, 6 info, 7 debug, 14 = user.info
        (UInt64(0), 0, 5),
        (UInt64(506), 0, 4),
        (UInt64(508), 0, 6),
        (UInt64(512), 0, 7),
        (UInt64(505), 1, 6),
    ])
    func priority(sequence: UInt64, facility: Int, level: Int) throws {
        let record = try record(sequence)
        #expect(record.facility == facility)
        #expect(record.level == level)
    }

    @Test func harnessActionLinesAreUserRecords() throws {
        // KmsgWriter writes `<14>% …`: facility 1 (user), level 6 (info).
        let record = try record(505)
        #expect(record.message == "% insmod livepatch-callbacks-mod.ko")
        #expect(record.timestamp == 56_344_600)
        #expect(record.facility == 1)
        #expect(record.level == 6)
        #expect(!record.isFromKernel)
        let actions = try Fixture.rawKmsgRecords().filter { $0.message.hasPrefix("% ") }
        #expect(actions.count == 10)
        #expect(actions.allSatisfy { $0.facility == 1 && $0.level == 6 })
    }

    @Test func dictionaryContinuationLinesAreIgnored() throws {
        let chunk = try #require(try Fixture.rawKmsgChunks().first { $0.hasPrefix("6,206,") })
        #expect(chunk.contains("\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A08:00\n"))
        let record = try #require(KmsgRecord(kmsg: chunk[...]))
        #expect(record.message == "acpi PNP0A08:00: _OSC: OS supports [ExtendedConfig ASPM ClockPM Segments MSI HPX-Type3]")

        let scsi = try #require(try Fixture.rawKmsgChunks().first { $0.hasPrefix("7,495,") })
        #expect(KmsgRecord(kmsg: scsi[...])?.message == "sr 2:0:0:0: Attached scsi CD-ROM sr0")

        let withDictionary = try Fixture.rawKmsgChunks().filter { $0.contains("\n ") }
        #expect(withDictionary.count == 4)
        for chunk in withDictionary {
            let message = try #require(KmsgRecord(kmsg: chunk[...])).message
            #expect(!message.contains("SUBSYSTEM="))
            #expect(!message.contains("DEVICE="))
            #expect(!message.contains("\n"))
        }
    }

    @Test func escapesAreDecoded() throws {
        // \x09 (tab), \x0a (newline inside one record), \x5c (a backslash).
        #expect(try record(94).message == "rcu: \tRCU restricting CPUs from NR_CPUS=8192 to nr_cpu_ids=2.")
        #expect(try record(95).message == "\tTrampoline variant of Tasks RCU enabled.")
        #expect(try record(382).message == """
            Unstable clock detected, switching default tracing clock to "global"
            If you want to keep using the local clock, then add:
              "trace_clock=local"
            on the kernel command line
            """)
        #expect(try record(430).message == "ACPI: \\_SB_.GSIF: Enabled at IRQ 21")
        #expect(try Fixture.rawKmsgRecords().allSatisfy { !$0.message.contains("\\x") })
    }

    @Test func escapedMultibyteCharactersDecodeAsUTF8() {
        // Synthetic (the capture has no non-ASCII text): the kernel escapes
        // every byte >= 0x7f, so UTF-8 arrives byte by byte.
        #expect(KmsgRecord(kmsg: "6,1,2,-;caf\\xc3\\xa9")?.message == "café")
    }

    @Test("text that is not an escape stays as it is", arguments: [
        "6,1,2,-;a \\x4",
        "6,1,2,-;a \\xzz b",
        "6,1,2,-;a \\ b",
        "6,1,2,-;\\",
    ])
    func incompleteEscapes(text: String) throws {
        let record = try #require(KmsgRecord(kmsg: text[...]))
        #expect(record.message == String(text.split(separator: ";", maxSplits: 1)[1]))
    }

    @Test func extraHeaderFieldsAreAllowed() throws {
        // Documentation/ABI/testing/dev-kmsg: more comma-separated fields may
        // follow the flags (a CONFIG_PRINTK_CALLER kernel adds `caller=T241`).
        // The real record 512, with such a field added.
        let chunk = try #require(try Fixture.rawKmsgChunks().first { $0.hasPrefix("7,512,") })
        let withCaller = chunk.replacing("-;", with: "-,caller=T241;", maxReplacements: 1)
        #expect(withCaller.hasPrefix("7,512,56422022,-,caller=T241;livepatch: "))
        #expect(KmsgRecord(kmsg: withCaller[...]) == KmsgRecord(kmsg: chunk[...]))
        #expect(KmsgRecord(kmsg: withCaller[...])?.message == "livepatch: 'livepatch_callbacks_demo': initializing patching transition")
    }

    @Test("malformed input gives nil", arguments: [
        "",
        "\n",
        "livepatch: no header at all",
        " SUBSYSTEM=acpi",
        "6,512,56422022;three fields only",
        "six,512,56422022,-;priority is not a number",
        "6,-1,56422022,-;negative sequence",
        "6,512,5642.2022,-;timestamp is not an integer",
        "6,,56422022,-;empty sequence",
        ";",
    ])
    func malformed(text: String) {
        #expect(KmsgRecord(kmsg: text[...]) == nil)
    }

    // MARK: dmesg lines

    @Test func dmesgLineFormatting() throws {
        #expect(try record(505).dmesgLine == "[   56.344600] % insmod livepatch-callbacks-mod.ko")
        #expect(try record(0).dmesgLine.hasPrefix("[    0.000000] Linux version 6.1.0-56-amd64 "))
        #expect(try record(203).dmesgLine == "[    0.811053] PCI: Using E820 reservations for host bridge windows")
        #expect(KmsgRecord(sequence: 1, timestamp: 123_456_000_042, message: "x").dmesgLine == "[123456.000042] x")
    }

    @Test func dmesgLinesOfAResultsFolderRoundTrip() throws {
        let lines = try Fixture.lines("busy-target-module-kmsg", "txt")
        #expect(lines.count == 31)
        for (index, line) in lines.enumerated() {
            let record = try #require(KmsgRecord(dmesgLine: line[...], sequence: UInt64(index)), "\(line)")
            #expect(record.sequence == UInt64(index))
            #expect(record.dmesgLine == line)
        }
        let first = try #require(KmsgRecord(dmesgLine: lines[0][...], sequence: 0))
        #expect(first.timestamp == 35_324_963)
        #expect(first.message == "klp-harness[243]: begin busy-target-module #25")
        let last = try #require(KmsgRecord(dmesgLine: lines[30][...], sequence: 30))
        #expect(last.timestamp == 37_287_149)
    }

    @Test func rawRecordsRoundTripThroughDmesgLines() throws {
        for record in try Fixture.rawKmsgRecords() where !record.message.contains("\n") {
            let back = try #require(KmsgRecord(dmesgLine: record.dmesgLine[...], sequence: record.sequence))
            #expect(back.timestamp == record.timestamp)
            #expect(back.message == record.message)
        }
    }

    @Test("malformed dmesg lines give nil", arguments: [
        "",
        "livepatch: no timestamp",
        "[   35.324963 no closing bracket",
        "[] empty",
        "[   35] no fraction",
        "[   35.32.4963] two dots",
        "[   3x.324963] not a number",
    ])
    func malformedDmesgLine(line: String) {
        #expect(KmsgRecord(dmesgLine: line[...], sequence: 0) == nil)
    }
}
