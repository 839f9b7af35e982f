import Foundation
import Testing
@testable import KlpHarness

/// What the runner says when this kernel or user cannot run the suite. The
/// kernels we boot have both features, so missing ones are shown with
/// paths that do not exist; the not-root path runs for real in the VM
/// (GuestFailurePathTests.testNotRoot).
@Suite("Kernel support: skip reasons")
struct KernelSupportTests {
    @Test func notRootComesFirst() throws {
        let reason = try #require(SuiteRunner.reasonToSkip(isRoot: false, sysfs: Sysfs()))
        #expect(reason.hasPrefix("not root: "))
        #expect(reason.contains("sudo"))
    }

    @Test func kernelWithoutLivepatch() throws {
        let reason = try #require(SuiteRunner.reasonToSkip(isRoot: true, sysfs: Sysfs(root: "/nonexistent-sysfs")))
        #expect(reason == "/nonexistent-sysfs/kernel/livepatch is missing: this kernel has no livepatch support (CONFIG_LIVEPATCH=y)")
    }

    @Test func kernelWithLivepatchRuns() throws {
        let sysfs = NSTemporaryDirectory() + "klp-sysfs-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: sysfs + "/kernel/livepatch", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: sysfs) }
        #expect(SuiteRunner.reasonToSkip(isRoot: true, sysfs: Sysfs(root: sysfs)) == nil)
    }

    @Test func kernelWithoutDynamicDebug() {
        #expect {
            _ = try DynamicDebug.locateControl(proc: "/nonexistent/control", debugfsMount: "/nonexistent-debugfs")
        } throws: { error in
            guard let error = error as? HarnessError else { return false }
            return error.status == .skipped
                && error.problem.contains("no dynamic debug control file")
                && (error.remedy ?? "").contains("CONFIG_DYNAMIC_DEBUG=y")
        }
    }

    @Test func dynamicDebugSitesThatWereOn() {
        // Real control-file lines, as 6.1 prints them.
        let control = """
            kernel/livepatch/transition.c:596 [livepatch]klp_reverse_transition =p "'%s': reversing transition from %s\\012"
            kernel/livepatch/transition.c:260 [livepatch]klp_try_switch_task =_ "%s: %s:%d is running\\012"
            kernel/module/main.c:1 [main]foo =p "x"
            """
        let sites = DynamicDebug.enabledSites(in: control, under: "kernel/livepatch/")
        #expect(sites == [DynamicDebug.Site(file: "kernel/livepatch/transition.c", line: 596)])
    }
}
