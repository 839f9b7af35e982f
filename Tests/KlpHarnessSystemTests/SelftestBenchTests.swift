import Foundation
import XCTest

/// Prints scripts/bench-selftests' table from the files its guest wrote:
///
///     KLP_HARNESS_BENCH_DIR=results/bench-selftests/<release> \
///         .build/debug/klp-harnessPackageTests.xctest KlpHarnessSystemTests.SelftestBenchTests
///
/// (kernel-times.txt, ours-time.txt and ours/<release>/results.json). The
/// fixture tests run everywhere.
final class SelftestBenchTests: XCTestCase {
    func testPrintTheSideBySideTable() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let directory = environment["KLP_HARNESS_BENCH_DIR"] else {
            throw XCTSkip("scripts/bench-selftests sets KLP_HARNESS_BENCH_DIR")
        }
        let kernel = try SelftestBench.parseKernelTimes(String(contentsOfFile: "\(directory)/kernel-times.txt", encoding: .utf8))
        let resultsFolder = (try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/ours"))?
            .first { FileManager.default.fileExists(atPath: "\(directory)/ours/\($0)/results.json") }
        var ours: [SelftestBench.OurScenario] = []
        if let resultsFolder {
            ours = try SelftestBench.parseResults(Data(contentsOf: URL(fileURLWithPath: "\(directory)/ours/\(resultsFolder)/results.json")))
        } else if environment["KLP_HARNESS_BENCH_OURS"] != "0" {
            XCTFail("no ours/<release>/results.json in \(directory): did klp-harness run start in the guest?")
        }
        // ours-time.txt: "START END EXIT" of the klp-harness run process.
        let process = (try? String(contentsOfFile: "\(directory)/ours-time.txt", encoding: .utf8))
            .map { $0.split(whereSeparator: \.isWhitespace).compactMap { Double($0) } }
            .flatMap { $0.count == 3 ? $0[1] - $0[0] : nil }
        let bench = SelftestBench(kernel: kernel, ours: ours, oursProcessSeconds: process)
        print(bench.table(title: environment["KLP_HARNESS_BENCH_TITLE"] ?? "kernel selftests vs klp-harness run, \(resultsFolder ?? directory)"))
        XCTAssertFalse(kernel.isEmpty, "the guest timed no kernel script")
    }

    func testGroupsFollowTheScenarioNamePrefixes() {
        XCTAssertEqual(SelftestBench.group(ofScenario: "busy-target-module"), "callbacks")
        XCTAssertEqual(SelftestBench.group(ofScenario: "multiple-livepatches"), "callbacks")
        XCTAssertEqual(SelftestBench.group(ofScenario: "livepatch-multiple-livepatches"), "livepatch")
        XCTAssertEqual(SelftestBench.group(ofScenario: "shadow-vars-basic-shadow-variable-api"), "shadow-vars")
        XCTAssertEqual(SelftestBench.group(ofScenario: "syscall-patch-getpid-syscall-while-being-heavily-hammered"), "syscall")
    }

    func testTableSumsEachGroupAndGivesTheRatio() throws {
        let kernel = try SelftestBench.parseKernelTimes("""
        test-callbacks.sh 100.0 160.0 0
        test-sysfs.sh 160.0 170.0 1
        """)
        let results = """
        {"scenarios": [
          {"name": "busy-target-module", "status": "pass", "durationSeconds": 20.0, "transitionSeconds": 15.0},
          {"name": "atomic-replace", "status": "pass", "durationSeconds": 10.0, "transitionSeconds": 5.0},
          {"name": "sysfs-test", "status": "fail", "durationSeconds": 4.0, "transitionSeconds": 2.0}
        ]}
        """
        let ours = try SelftestBench.parseResults(Data(results.utf8))
        let table = SelftestBench(kernel: kernel, ours: ours, oursProcessSeconds: 40).table(title: "t")
        let lines = table.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("callbacks") && $0.contains("60.0") && $0.contains("30.0") && $0.contains("0.50") && $0.contains("2/2 pass") }, table)
        XCTAssertTrue(lines.contains { $0.hasPrefix("sysfs") && $0.contains("exit 1") && $0.contains("0/1 pass") && $0.contains("0.40") }, table)
        XCTAssertTrue(lines.contains { $0.hasPrefix("total") && $0.contains("70.0") && $0.contains("34.0") && $0.contains("0.49") }, table)
        XCTAssertTrue(table.contains("ours in kernel transitions: 22.0 s of 34.0 s"), table)
        let kernelOnly = SelftestBench(kernel: kernel, ours: [], oursProcessSeconds: nil).table(title: "t")
        XCTAssertTrue(kernelOnly.split(separator: "\n").contains { $0.hasPrefix("total") && $0.contains("70.0") && !$0.contains("0.00") }, kernelOnly)
        // A group only we have (6.1 has no test-syscall.sh): the ratio of the groups both sides measured.
        let oursOnly = ours + [SelftestBench.OurScenario(name: "syscall-x", status: "skip", seconds: 3, transitionSeconds: 0)]
        let partial = SelftestBench(kernel: kernel, ours: oursOnly, oursProcessSeconds: nil).table(title: "t")
        XCTAssertTrue(partial.split(separator: "\n").contains { $0.hasPrefix("both sides") && $0.contains("34.0") && $0.contains("0.49") }, partial)
        XCTAssertTrue(partial.contains("0/1 pass, 1 skip"), partial)
    }

    func testAMalformedTimingLineIsAnError() {
        XCTAssertThrowsError(try SelftestBench.parseKernelTimes("test-callbacks.sh 1.0\n"))
    }
}
