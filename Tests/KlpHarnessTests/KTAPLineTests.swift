import Testing
@testable import KlpHarness

/// The one KTAP reader, on captured logs as kunit.py's parser is tested
/// (tools/testing/kunit/test_data): our runner's real stream, and the same
/// stream as the kernel's kselftest runner nests it.
@Suite("KTAPLine")
struct KTAPLineTests {
    @Test func readsARealRunsStream() throws {
        let lines = try Fixture.lines("ktap-6.1-records", "txt")
        let parsed = lines.map { KTAPLine.parse($0) }
        #expect(parsed.first == .version(1))
        #expect(parsed[1] == .plan(count: 11, skipReason: nil))
        let results = parsed.compactMap { if case .result(let result) = $0 { result } else { nil } }
        let records = parsed.compactMap { if case .record(let record) = $0 { record } else { nil } }
        #expect(results.map(\.number) == Array(1...11))
        #expect(results.allSatisfy { $0.ok && $0.directive == nil })
        // One record per result, right before it, saying the same thing.
        #expect(records.map(\.result.name) == results.map(\.name))
        #expect(records.map(\.result.number) == results.map(\.number))
        #expect(records.allSatisfy { $0.result.status == .pass && $0.kernel.hasPrefix("6.1.") })
        for (index, line) in parsed.enumerated() {
            guard case .result(let result) = line else { continue }
            guard case .record(let record) = parsed[index - 1] else {
                Issue.record("no record before \(lines[index])")
                continue
            }
            #expect(record.result.name == result.name)
        }
        #expect(parsed.contains { if case .totals = $0 { true } else { false } })
        #expect(parsed.last == .other("11 passed, 0 failed"))
        #expect(parsed.contains { if case .diagnostic(let text) = $0 { text.hasPrefix("starting 1 ") } else { false } })
    }

    @Test func progressCollectsTheRecords() throws {
        var progress = KTAPProgress()
        for line in try Fixture.lines("ktap-6.1-records", "txt") { progress.consume(line) }
        #expect(progress.plan == 11)
        #expect(progress.isComplete)
        #expect(progress.records.map(\.result.name) == progress.results.map(\.name))
    }

    /// The same stream under run_kselftest.sh: every line prefixed `# `
    /// by the kernel's kselftest/prefix.pl, inside the runner's own TAP.
    @Test func readsAKselftestNestedCapture() throws {
        let nested = try Fixture.lines("ktap-6.1-kselftest", "txt")
        let plain = try Fixture.lines("ktap-6.1-records", "txt")
        let outer = nested.map { KTAPLine.parse($0) }
        #expect(outer.first == .version(13))
        let outerResults = outer.compactMap { if case .result(let result) = $0 { result } else { nil } }
        #expect(outerResults.count == 1)
        #expect(outerResults.first?.ok == true)
        // Records are found at any depth; results only at their own.
        let records = outer.compactMap { if case .record(let record) = $0 { record } else { nil } }
        #expect(records.count == 11)
        let inner = nested.map { KTAPLine.parse($0, depth: 1) }
        let innerResults = inner.compactMap { if case .result(let result) = $0 { result } else { nil } }
        #expect(innerResults.map(\.number).prefix(11) == ArraySlice(1...11))
        #expect(inner.contains(.version(1)))
        #expect(inner.contains(.plan(count: 11, skipReason: nil)))
        let plainRecords = plain.compactMap { ScenarioRecord.parse(ktapLine: $0) }
        #expect(records == plainRecords)
    }

    @Test func planSkipDirectiveAndCarriageReturn() {
        #expect(KTAPLine.parse("1..0 # SKIP not root: loading modules needs root\r") == .plan(count: 0, skipReason: "not root: loading modules needs root"))
        #expect(KTAPLine.parse("not ok 4 gamma # TIMEOUT 60 seconds\r")
            == .result(.init(number: 4, ok: false, name: "gamma", directive: "TIMEOUT 60 seconds")))
        let skip = KTAPLine.parse("ok 23 x # SKIP requires Linux 6.5")
        #expect(skip == .result(.init(number: 23, ok: true, name: "x", directive: "SKIP requires Linux 6.5")))
        if case .result(let result) = skip { #expect(result.isSkip) }
        #expect(KTAPLine.parse("ok 1 # SKIP no name") == .result(.init(number: 1, ok: true, name: "", directive: "SKIP no name")))
        #expect(KTAPLine.parse("#") == .diagnostic(""))
        #expect(KTAPLine.parse("    ok 2 sub", depth: 1) == .result(.init(number: 2, ok: true, name: "sub", directive: nil)))
        #expect(KTAPLine.parse("okay then") == .other("okay then"))
        #expect(KTAPLine.parse("# klp-result {\"truncated\":") == .diagnostic("klp-result {\"truncated\":"))
    }
}
