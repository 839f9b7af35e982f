import Foundation
import XCTest

/// The suite as a kselftest collection, run by the kernel's own runner
/// (run_kselftest.sh and kselftest/runner.sh from the kernel source) from a
/// tree that scripts/kselftest-install made.
///
/// Runs inside the VM as root, with KLP_HARNESS_KSELFTEST_DIR naming the tree:
///
///     scripts/kselftest-install /tmp/kst --with-runner --kdir /lib/modules/6.1.0-56-amd64/build
///     .build/release/klp-harness vm --exec "KLP_HARNESS_KSELFTEST_DIR=/tmp/kst KLP_HARNESS_GUEST=1 \
///         $PWD/.build/debug/klp-harnessPackageTests.xctest KlpHarnessSystemTests.KselftestTargetTests"
///
/// Elsewhere it skips.
final class KselftestTargetTests: XCTestCase {
    var tree = ""
    var collection: String { "\(tree)/livepatch-callbacks" }
    /// /dev/stdout and /dev/stderr as the guest had them (see pointStandardStreamsAtTheProcess).
    private var savedLinks: [String: String] = [:]

    static let testModules: Set<String> = ["livepatch_callbacks_mod", "livepatch_callbacks_busymod",
                                           "livepatch_callbacks_demo", "livepatch_callbacks_demo2"]

    override func setUpWithError() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let directory = environment["KLP_HARNESS_KSELFTEST_DIR"], environment["KLP_HARNESS_GUEST"] == "1" else {
            throw XCTSkip("runs inside the VM with KLP_HARNESS_KSELFTEST_DIR set to a tree from scripts/kselftest-install")
        }
        tree = directory
        for file in ["run_kselftest.sh", "kselftest/runner.sh", "kselftest-list.txt",
                     "livepatch-callbacks/run", "livepatch-callbacks/settings", "livepatch-callbacks/klp-harness"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(tree)/\(file)"),
                          "\(tree)/\(file) is missing: make the tree with scripts/kselftest-install \(tree) --with-runner")
        }
        XCTAssertEqual(Self.loadedTestModules(), [], "a test module was loaded before the test started")
        try pointStandardStreamsAtTheProcess()
    }

    override func tearDown() {
        guard !tree.isEmpty else { return }
        restoreStandardStreams()
        let modules = Self.loadedTestModules(), patches = Self.livepatches()
        XCTAssertEqual(modules, [], "test modules left loaded in /proc/modules")
        XCTAssertEqual(patches, [], "livepatches left in /sys/kernel/livepatch")
        if !modules.isEmpty || !patches.isEmpty {
            // Leave the next test a clean kernel: the runner removes leftovers first.
            _ = try? Self.run(["\(collection)/run", "pre-patch-callback-enodev"],
                              environment: ["KLP_HARNESS_RESULTS": NSTemporaryDirectory() + "klp-harness-cleanup"])
        }
    }

    /// kselftest's runner writes its own lines and the test's prefixed output
    /// with `>> /dev/stdout`, a reopen of fd 1. On a normal system (udev)
    /// /dev/stdout is a link to /proc/self/fd/1; in virtme-ng's guest it points
    /// at the VM's output port, which would bypass the pipe this test reads.
    /// Inside the throwaway guest only, give it the usual link for the test.
    private func pointStandardStreamsAtTheProcess() throws {
        for (link, target) in [("/dev/stdout", "/proc/self/fd/1"), ("/dev/stderr", "/proc/self/fd/2")] {
            let current = try FileManager.default.destinationOfSymbolicLink(atPath: link)
            guard current != target else { continue }
            savedLinks[link] = current
            try FileManager.default.removeItem(atPath: link)
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        }
    }

    private func restoreStandardStreams() {
        for (link, original) in savedLinks {
            try? FileManager.default.removeItem(atPath: link)
            try? FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: original)
        }
        savedLinks = [:]
    }

    // MARK: - The tests

    /// The whole suite under the kernel's runner: one kselftest test that
    /// passes, with every scenario's own KTAP result nested in it.
    func testSuitePassesUnderTheKernelsRunner() throws {
        let scratch = try ScratchDirectory()
        let result = try Self.run(["\(tree)/run_kselftest.sh", "-c", "livepatch-callbacks"],
                                  environment: ["KLP_HARNESS_RESULTS": scratch.path])
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let report = "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)"

        // run_kselftest.sh itself exits 0 whatever the tests did; the verdict is in its TAP.
        XCTAssertEqual(result.status, 0, report)
        XCTAssertTrue(lines.contains("TAP version 13"), report)
        XCTAssertTrue(lines.contains("1..1"), report)
        XCTAssertTrue(lines.contains("# timeout set to 300"), "settings' timeout=300 was not read: \(report)")
        XCTAssertTrue(lines.contains("# selftests: livepatch-callbacks: run"), report)
        XCTAssertTrue(lines.contains("ok 1 selftests: livepatch-callbacks: run"), "the kselftest test did not pass: \(report)")

        // The runner's KTAP, prefixed with '# ' by kselftest: one ok per scenario, in order.
        // A scenario that needs a later kernel (`% requires Linux X.Y:`) is
        // an ok with a SKIP directive, never missing and never a failure.
        let names = try Self.scenarioNames()
        XCTAssertGreaterThanOrEqual(names.count, 25, "scenarios/ should hold every livepatch selftest: \(names)")
        XCTAssertTrue(lines.contains("# 1..\(names.count)"), report)
        var skipped = 0
        for (index, name) in names.enumerated() {
            let ok = "# ok \(index + 1) \(name)"
            if lines.contains(where: { $0.hasPrefix(ok + " # SKIP needs Linux ") }) {
                skipped += 1
            } else {
                XCTAssertTrue(lines.contains(ok), "no '\(ok)': \(report)")
            }
        }
        XCTAssertFalse(lines.contains { $0.hasPrefix("# not ok") }, report)
        let closing = "# \(names.count - skipped) passed, 0 failed" + (skipped > 0 ? ", \(skipped) skipped" : "")
        XCTAssertTrue(lines.contains(closing), "no '\(closing)': \(report)")

        // The results went where the run script's KLP_HARNESS_RESULTS said.
        let ktap = "\(scratch.path)/\(Self.kernelRelease)/ktap.txt"
        let written = try String(contentsOfFile: ktap, encoding: .utf8)
        XCTAssertTrue(written.contains("ok \(names.count) \(names.last ?? "")"), written)
    }

    /// The installed klp-harness carries the Swift runtime: the test machine
    /// needs no Swift, only system libraries.
    func testInstalledRunnerNeedsNoSwiftRuntime() throws {
        let result = try Self.run(["/usr/bin/ldd", "\(collection)/klp-harness"])
        XCTAssertEqual(result.status, 0, result.stderr)
        for library in ["libswiftCore", "libFoundation", "libdispatch"] {
            XCTAssertFalse(result.stdout.contains(library), "links \(library) dynamically:\n\(result.stdout)")
        }
        XCTAssertTrue(result.stdout.contains("libkmod.so"), result.stdout)
    }

    /// Exit code 4 (not root) is kselftest's skip.
    func testNotRootIsAKselftestSkip() throws {
        let scratch = try ScratchDirectory()
        // Output to a file nobody owns: nobody may not reopen root's pipe
        // through /dev/stdout. Both opens append, so the lines interleave.
        let output = "\(scratch.path)/output.txt"
        let result = try Self.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                   "/bin/sh", "-c", "exec \"$0\" -c livepatch-callbacks >>\"$1\" 2>&1",
                                   "\(tree)/run_kselftest.sh", output],
                                  environment: ["KLP_HARNESS_RESULTS": scratch.path])
        XCTAssertEqual(result.status, 0, result.output)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("ok 1 selftests: livepatch-callbacks: run # SKIP"), text + result.output)
        XCTAssertTrue(lines.contains { $0.hasPrefix("# 1..0 # SKIP not root") }, text)
    }

    /// kselftest's own timeout (here -o 15, on a scenario that stalls) ends the
    /// run: GNU timeout, twice nested, sends SIGTERM to klp-harness directly
    /// and to its process group, so it can arrive more than once. klp-harness
    /// must still clean up and unload the test modules (tearDown checks).
    func testKselftestTimeoutLeavesTheKernelClean() throws {
        // A copy of the tree with one scenario whose transition never finishes.
        let scratch = try ScratchDirectory()
        let copy = "\(scratch.path)/tree"
        let files = FileManager.default
        try files.createDirectory(atPath: "\(copy)/livepatch-callbacks/scenarios", withIntermediateDirectories: true)
        for item in ["run_kselftest.sh", "kselftest", "livepatch-callbacks/run", "livepatch-callbacks/settings",
                     "livepatch-callbacks/klp-harness", "livepatch-callbacks/modules"] {
            try files.copyItem(atPath: "\(tree)/\(item)", toPath: "\(copy)/\(item)")
        }
        try "livepatch-callbacks:run\n".write(toFile: "\(copy)/kselftest-list.txt", atomically: true, encoding: .utf8)
        try TestScenarios.stalled.write(toFile: "\(copy)/livepatch-callbacks/scenarios/01-stalled.scenario", atomically: true, encoding: .utf8)

        // 15 s: time for the runner to start and load both modules under TCG.
        let result = try Self.run(["\(copy)/run_kselftest.sh", "-o", "15"], environment: ["KLP_HARNESS_RESULTS": scratch.path])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let report = "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)"
        XCTAssertTrue(lines.contains("# overriding timeout to 15"), report)
        XCTAssertTrue(lines.contains("not ok 1 selftests: livepatch-callbacks: run # TIMEOUT 15 seconds"), report)
        // klp-harness saw the SIGTERM, cleaned up and said so (tearDown checks the kernel).
        XCTAssertTrue(lines.contains("# not ok 1 stalled # ERROR interrupted by SIGTERM"), report)
    }

    // MARK: - Helpers

    /// Scenario names as KTAP shows them, from the repository's scenarios/.
    static func scenarioNames() throws -> [String] {
        let directory = "\(HarnessProcess.repository)/scenarios"
        return try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".scenario") }
            .sorted()
            .map { file in
                let stem = String(file.dropLast(".scenario".count))
                guard let dash = stem.firstIndex(of: "-"), stem[..<dash].allSatisfy(\.isNumber) else { return stem }
                return String(stem[stem.index(after: dash)...])
            }
    }

    static var kernelRelease: String {
        ((try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func loadedTestModules() -> Set<String> {
        let text = (try? String(contentsOfFile: "/proc/modules", encoding: .utf8)) ?? ""
        let names = text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        return Set(names).intersection(testModules)
    }

    static func livepatches() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/kernel/livepatch")) ?? []).sorted()
    }

    /// Runs a command to the end with extra environment, reading both pipes.
    static func run(_ command: [String], environment extra: [String: String] = [:]) throws -> HarnessProcess.Result {
        try HarnessProcess.runCommand(command, environment: extra)
    }
}
