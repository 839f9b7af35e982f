import Testing
@testable import KlpHarness

@Suite("TransitionSpan: transitions timed by the kernel's own timestamps")
struct TransitionSpanTests {
    @Test func busyTargetModuleIsOneReversedSpan() throws {
        // initializing patching transition (56.748116) … reversing … unpatching complete (57.914424)
        let window = try Fixture.transcriptWindow(of: "busy-target-module", in: try Fixture.rawKmsgRecords())
        let spans = TransitionSpan.spans(in: window)
        #expect(spans == [TransitionSpan(patch: "livepatch_callbacks_demo", start: 56_748_116, end: 57_914_424)])
        #expect(spans.first?.duration == .microseconds(1_166_308))
        #expect(spans.totalDuration == .microseconds(1_166_308))
    }

    @Test func preparePatchFailureIsOneCancelledSpan() throws {
        // initializing patching transition (56.422022) … canceling … unpatching complete (56.428965)
        let window = try Fixture.transcriptWindow(of: "pre-patch-callback-enodev", in: try Fixture.rawKmsgRecords())
        let spans = TransitionSpan.spans(in: window)
        #expect(spans == [TransitionSpan(patch: "livepatch_callbacks_demo", start: 56_422_022, end: 56_428_965)])
        #expect(spans.first?.duration == .microseconds(6_943))
    }

    @Test func theWholeDumpHasBothSpansInOrder() throws {
        let spans = TransitionSpan.spans(in: try Fixture.rawKmsgRecords())
        #expect(spans.map(\.start) == [56_422_022, 56_748_116])
        #expect(spans.map(\.end) == [56_428_965, 57_914_424])
        #expect(spans.totalDuration == .microseconds(6_943 + 1_166_308))
    }

    @Test func spansFromAResultsFolderMatchItsKTAPLine() throws {
        // kmsg.txt of the real run's busy-target-module, and ktap.txt's
        // "# busy-target-module: 1.970 s wall, 1.642 s in 1 transition(s)".
        let lines = try Fixture.lines("busy-target-module-kmsg", "txt")
        let records = try lines.enumerated().map { index, line in
            try #require(KmsgRecord(dmesgLine: line[...], sequence: UInt64(index)))
        }
        let spans = TransitionSpan.spans(in: records)
        #expect(spans == [TransitionSpan(patch: "livepatch_callbacks_demo", start: 35_540_041, end: 37_182_380)])
        #expect(spans.totalDuration.secondsText == "1.642 s")
        let ktap = try Fixture.lines("ktap-6.1-pass", "txt")
        #expect(ktap.contains("# busy-target-module: 1.970 s wall, \(spans.totalDuration.secondsText) in \(spans.count) transition(s)"))
    }

    @Test func userSpaceRecordsNeverOpenOrCloseASpan() {
        let records = [
            KmsgRecord(sequence: 1, timestamp: 100, facility: 1, message: "livepatch: 'p': initializing patching transition"),
            KmsgRecord(sequence: 2, timestamp: 200, facility: 1, message: "livepatch: 'p': patching complete"),
        ]
        #expect(TransitionSpan.spans(in: records) == [])
    }

    @Test func aTransitionThatNeverCompletesHasNoSpan() throws {
        let records = try Fixture.rawKmsgRecords()
        let unfinished = Array(records.prefix { !$0.message.hasSuffix("': unpatching complete") })
        #expect(unfinished.contains { $0.message.hasSuffix("initializing patching transition") })
        #expect(TransitionSpan.spans(in: unfinished) == [])
        let start = try #require(unfinished.first { $0.message.hasSuffix("initializing patching transition") }).timestamp
        #expect(TransitionSpan.transitions(in: unfinished).unfinished == [TransitionSpan.Unfinished(patch: "livepatch_callbacks_demo", start: start)])
        #expect(TransitionSpan.transitions(in: records).unfinished == [])
    }

    @Test("events are recognised only in the core's exact wording", arguments: [
        ("livepatch: 'livepatch_callbacks_demo': initializing patching transition", "livepatch_callbacks_demo", true),
        ("livepatch: 'livepatch_callbacks_demo': initializing unpatching transition", "livepatch_callbacks_demo", true),
        ("livepatch: 'livepatch_callbacks_demo': patching complete", "livepatch_callbacks_demo", false),
        ("livepatch: 'livepatch_callbacks_demo2': unpatching complete", "livepatch_callbacks_demo2", false),
    ])
    func parsesEvents(message: String, patch: String, isStart: Bool) throws {
        let (name, event) = try #require(TransitionSpan.parse(message))
        #expect(name == patch)
        #expect((event == .initializing) == isStart)
    }

    @Test("other livepatch lines are not events", arguments: [
        "livepatch: 'livepatch_callbacks_demo': starting patching transition",
        "livepatch: 'livepatch_callbacks_demo': completing unpatching transition",
        "livepatch: 'livepatch_callbacks_demo': reversing transition from patching to unpatching",
        "livepatch: 'livepatch_callbacks_demo': canceling patching transition, going to unpatch",
        "livepatch: enabling patch 'livepatch_callbacks_demo'",
        "livepatch_callbacks_demo: post_unpatch_callback: vmlinux",
    ])
    func ignoresOtherLines(message: String) {
        #expect(TransitionSpan.parse(message) == nil)
    }
}
