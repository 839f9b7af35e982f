import Foundation
import Testing
@testable import KlpHarness

/// The clean-up's bookkeeping on a scratch sysfs tree: what it cannot undo
/// is reported, remembered and not waited for again, and the scenario it
/// ran after fails.
@Suite("KernelCleaner: a clean-up that cannot finish")
struct KernelCleanerTests {
    final class FakeKernel {
        let sysfs = Sysfs(root: NSTemporaryDirectory() + "klp-cleaner-" + UUID().uuidString)
        var loaded: Set<String> = []
        var removed: [String] = []

        /// A patch that never leaves sysfs (nothing here removes it) and a
        /// module whose refcnt stays at 1, as after a forced transition.
        func stuckPatch(_ name: String) throws {
            let patch = sysfs.patchDirectory(name)
            try FileManager.default.createDirectory(atPath: patch, withIntermediateDirectories: true)
            for (file, value) in [("enabled", "1"), ("transition", "1"), ("force", "")] {
                try "\(value)\n".write(toFile: "\(patch)/\(file)", atomically: false, encoding: .utf8)
            }
            try stuckModule(name)
        }

        func stuckModule(_ name: String) throws {
            try FileManager.default.createDirectory(atPath: sysfs.moduleDirectory(name), withIntermediateDirectories: true)
            try "1\n".write(toFile: "\(sysfs.moduleDirectory(name))/refcnt", atomically: false, encoding: .utf8)
            loaded.insert(name)
        }

        func cleaner(_ catalog: ModuleCatalog) -> KernelCleaner {
            let cleaner = KernelCleaner(sysfs: sysfs, catalog: catalog, loadedModules: { self.loaded },
                                        removeModule: { self.removed.append($0); self.loaded.remove($0) })
            cleaner.patience = .milliseconds(200)
            return cleaner
        }

        deinit { try? FileManager.default.removeItem(atPath: sysfs.root) }
    }

    let catalog = ModuleCatalog(
        directory: "kmod",
        modules: [
            "livepatch_callbacks_demo": ModuleCatalogTests.info("livepatch_callbacks_demo", livepatch: true),
            "livepatch_callbacks_mod": ModuleCatalogTests.info("livepatch_callbacks_mod"),
        ],
        files: [:])

    @Test func aForcedPatchIsReportedAndNotWaitedForAgain() throws {
        let kernel = FakeKernel()
        try kernel.stuckPatch("livepatch_callbacks_demo")
        let cleaner = kernel.cleaner(catalog)
        let first = cleaner.clean()
        #expect(first.contains("disabled patch livepatch_callbacks_demo"))
        #expect(first.contains { $0.hasPrefix("FORCED patch livepatch_callbacks_demo's transition (timed out after 0.200 s waiting for patch livepatch_callbacks_demo to leave") })
        #expect(first.contains("patch livepatch_callbacks_demo is still in sysfs 0.200 s after force"))
        #expect(try String(contentsOfFile: "\(kernel.sysfs.patchDirectory("livepatch_callbacks_demo"))/force", encoding: .utf8) == "1")
        #expect(kernel.removed.isEmpty)
        #expect(cleaner.remaining() == ["livepatch_callbacks_demo (its transition was forced; the kernel keeps a forced patch's module until reboot)"])

        // The next scenario's clean-ups say so at once instead of waiting 2 x patience.
        let clock = ContinuousClock()
        let started = clock.now
        let second = cleaner.clean()
        #expect(clock.now - started < .milliseconds(150))
        #expect(second.contains { $0.hasPrefix("not waiting again for patch livepatch_callbacks_demo to leave sysfs: its transition was forced") })
        #expect(second.contains { $0.hasPrefix("not waiting again for livepatch_callbacks_demo to unload") })
    }

    @Test func aModuleThatWillNotUnloadIsWaitedForOnce() throws {
        let kernel = FakeKernel()
        try kernel.stuckModule("livepatch_callbacks_mod")
        let cleaner = kernel.cleaner(catalog)
        let first = cleaner.clean()
        #expect(first == ["could not unload livepatch_callbacks_mod: timed out after 0.200 s waiting for livepatch_callbacks_mod's refcnt to drop to 0 (\(kernel.sysfs.root)/module/livepatch_callbacks_mod/refcnt)"])
        #expect(cleaner.remaining() == ["livepatch_callbacks_mod (its refcnt did not drop to 0 within 0.200 s)"])
        let clock = ContinuousClock()
        let started = clock.now
        #expect(cleaner.clean() == ["not waiting again for livepatch_callbacks_mod to unload: its refcnt did not drop to 0 within 0.200 s"])
        #expect(clock.now - started < .milliseconds(150))
        // Once it is free, the next clean-up unloads it after all.
        try "0\n".write(toFile: "\(kernel.sysfs.moduleDirectory("livepatch_callbacks_mod"))/refcnt", atomically: false, encoding: .utf8)
        #expect(cleaner.clean() == ["unloaded livepatch_callbacks_mod"])
        #expect(cleaner.remaining().isEmpty)
    }

    @Test func aScenarioAfterWhichTheKernelIsNotCleanIsAnError() {
        var notes: [String] = []
        let remaining = ["livepatch_callbacks_demo (its transition was forced; the kernel keeps a forced patch's module until reboot)"]
        let status = ScenarioEngine.verdict(.passed, remaining: remaining, diagnostics: &notes)
        #expect(status == .error("clean-up failed: still loaded: " + remaining[0]))
        #expect(notes == ["clean-up failed: still loaded: " + remaining[0]])
        #expect(KTAPReport.resultLine(ScenarioResult(
            scenario: Scenario(name: "x", path: "x", steps: [], lines: []), status: status,
            actual: [], records: [], wallTime: .zero, transitions: [], diagnostics: notes), number: 2)
            .hasPrefix("not ok 2 x # ERROR clean-up failed: still loaded: livepatch_callbacks_demo"))
        var more: [String] = []
        #expect(ScenarioEngine.verdict(.failed, remaining: ["m"], diagnostics: &more) == .error("clean-up failed: still loaded: m"))
        let timedOut = ScenarioResult.Status.timedOut(limit: .seconds(5), condition: "c")
        #expect(ScenarioEngine.verdict(timedOut, remaining: ["m"], diagnostics: &more) == timedOut)
        #expect(ScenarioEngine.verdict(.passed, remaining: [], diagnostics: &more) == .passed)
    }
}

@Suite("Releasing the busy module's blocks")
struct BusyBlockReleaseTests {
    /// busymod's block_patched holds the work in the demo's replacement:
    /// the clean-up must release it too, or disabling the demo stalls.
    @Test func releasesBlockPatched() throws {
        let sysfs = Sysfs(root: NSTemporaryDirectory() + "klp-blocks-" + UUID().uuidString)
        defer { try? FileManager.default.removeItem(atPath: sysfs.root) }
        let module = TestModule.busyTarget.name
        let parameters = (sysfs.parameter("x", of: module) as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parameters, withIntermediateDirectories: true)
        try "N\n".write(toFile: sysfs.parameter("block_transition", of: module), atomically: false, encoding: .utf8)
        try "Y\n".write(toFile: sysfs.parameter("block_patched", of: module), atomically: false, encoding: .utf8)
        let verbs = LivepatchVerbs(sysfs: sysfs)
        #expect(verbs.isBlocking(module))
        try verbs.releaseBlock(of: module)
        #expect(try KernelFile.readValue(sysfs.parameter("block_patched", of: module)) == "N")
        #expect(try KernelFile.readValue(sysfs.parameter("block_transition", of: module)) == "N")
        #expect(!verbs.isBlocking(module))
    }
}

@Suite("Cleaning up inside a stalled unpatch")
struct StalledUnpatchCleanupTests {
    /// A scenario that ends after `echo 0 > …/enabled &`: the demo is in an
    /// unpatching transition (enabled 0, transition 1) held by busymod's
    /// work in the demo's replacement. The clean-up must release the work
    /// (then the kernel's retry completes the unpatch), write nothing to
    /// `enabled` (it is already 0: EINVAL), never force, and unload
    /// everything once the patch has left sysfs. The "kernel" here is a
    /// thread that removes the patch once block_patched reads N.
    @Test func releasesTheWorkAndWaitsForTheUnpatch() throws {
        let sysfs = Sysfs(root: NSTemporaryDirectory() + "klp-unpatch-" + UUID().uuidString)
        defer { try? FileManager.default.removeItem(atPath: sysfs.root) }
        let demo = TestModule.demo.name, busy = TestModule.busyTarget.name
        let patch = sysfs.patchDirectory(demo)
        try FileManager.default.createDirectory(atPath: patch, withIntermediateDirectories: true)
        for (file, value) in [("enabled", "0"), ("transition", "1"), ("force", "")] {
            try "\(value)\n".write(toFile: "\(patch)/\(file)", atomically: false, encoding: .utf8)
        }
        for (module, refcnt) in [(demo, "1"), (busy, "0")] {
            try FileManager.default.createDirectory(atPath: "\(sysfs.moduleDirectory(module))/parameters", withIntermediateDirectories: true)
            try "\(refcnt)\n".write(toFile: "\(sysfs.moduleDirectory(module))/refcnt", atomically: false, encoding: .utf8)
        }
        try "N\n".write(toFile: sysfs.parameter("block_transition", of: busy), atomically: false, encoding: .utf8)
        try "Y\n".write(toFile: sysfs.parameter("block_patched", of: busy), atomically: false, encoding: .utf8)

        let kernel = Thread {
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                if (try? KernelFile.readValue(sysfs.parameter("block_patched", of: busy))) == "N" {
                    try? FileManager.default.removeItem(atPath: patch)
                    try? "0\n".write(toFile: "\(sysfs.moduleDirectory(demo))/refcnt", atomically: false, encoding: .utf8)
                    return
                }
                Thread.sleep(forTimeInterval: 0.002)
            }
        }
        kernel.start()

        let catalog = ModuleCatalog(
            directory: "kmod",
            modules: [
                demo: ModuleCatalogTests.info(demo, livepatch: true),
                busy: ModuleCatalogTests.info(busy),
            ],
            files: [:])
        var loaded: Set<String> = [demo, busy]
        var removed: [String] = []
        let cleaner = KernelCleaner(sysfs: sysfs, catalog: catalog, loadedModules: { loaded },
                                    removeModule: { removed.append($0); loaded.remove($0) })
        cleaner.patience = .seconds(2)
        let log = cleaner.clean()
        #expect(log == ["released \(busy)'s block_transition", "unloaded \(demo)", "unloaded \(busy)"])
        #expect(removed == [demo, busy])
        #expect(cleaner.remaining().isEmpty)
        #expect(cleaner.unremovable.isEmpty)
    }
}
