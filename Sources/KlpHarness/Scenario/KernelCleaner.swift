/// Brings the kernel back to "no test module loaded, no test patch in
/// sysfs", whatever a scenario left behind, and says what it had to do.
/// What it cannot undo (a forced patch's module stays until reboot) it
/// remembers, so later clean-ups report it instead of waiting for it again.
public final class KernelCleaner {
    public let sysfs: Sysfs
    public let catalog: ModuleCatalog
    /// How long each clean-up wait may take: a patch leaving sysfs (before
    /// and after the `force` knob) and a module's refcnt dropping to 0.
    public var patience: Duration = .seconds(20)
    private let loadedModules: () -> Set<String>
    private let removeModule: (String) throws -> Void
    private var verbs: LivepatchVerbs { LivepatchVerbs(sysfs: sysfs) }
    /// Modules the clean-up gave up on, with why: not waited for again.
    public private(set) var unremovable: [String: String] = [:]

    public convenience init(kmod: KmodContext, sysfs: Sysfs, catalog: ModuleCatalog) {
        self.init(sysfs: sysfs, catalog: catalog,
                  loadedModules: { SystemState.loadedModules() },
                  removeModule: { try kmod.removeModule(named: $0) })
    }

    /// `loadedModules` and `removeModule` stand for /proc/modules and
    /// libkmod, so the bookkeeping can be tested on a scratch sysfs tree.
    init(sysfs: Sysfs, catalog: ModuleCatalog,
         loadedModules: @escaping () -> Set<String>, removeModule: @escaping (String) throws -> Void) {
        self.sysfs = sysfs
        self.catalog = catalog
        self.loadedModules = loadedModules
        self.removeModule = removeModule
    }

    /// Test modules loaded now.
    public func leftovers() -> Set<String> {
        loadedModules().intersection(catalog.names)
    }

    /// Test modules still loaded and test patches still in sysfs, each with
    /// why if the clean-up knows; empty when the kernel is clean.
    public func remaining() -> [String] {
        let patches = Set(sysfs.patches()).intersection(catalog.names)
        return leftovers().union(patches).sorted().map { name in
            var text = name
            if patches.contains(name) && !leftovers().contains(name) { text += " (patch in sysfs)" }
            if let reason = unremovable[name] { text += " (\(reason))" }
            return text
        }
    }

    /// Releases blocks, disables our patches, then unloads livepatches before
    /// their targets. Returns one line per thing it did; empty when clean.
    /// Never abandoned on a signal: it is what those paths rely on.
    @discardableResult
    public func clean() -> [String] {
        var log: [String] = []
        let loaded = leftovers()
        let bound = patience.secondsText
        // 1. A blocked work function would stall every transition below.
        for module in loaded.sorted() where verbs.isBlocking(module) {
            log.append(describe("released \(module)'s block_transition") {
                try verbs.releaseBlock(of: module)
            })
        }
        // 2. Disable our patches and wait until each has left sysfs.
        for patch in sysfs.patches() where catalog.names.contains(patch) {
            if let reason = unremovable[patch] {
                log.append("not waiting again for patch \(patch) to leave sysfs: \(reason)")
                continue
            }
            if (try? sysfs.isEnabled(patch)) == true {
                log.append(describe("disabled patch \(patch)") {
                    try verbs.disable(patch)
                })
            }
            log.append(contentsOf: waitUntilGone(patch))
        }
        // 3. Livepatches first: a target module cannot go while a patch pins it.
        let order = loaded.sorted { lhs, rhs in
            let l = catalog.livepatchNames.contains(lhs), r = catalog.livepatchNames.contains(rhs)
            return l != r ? l : lhs < rhs
        }
        for module in order {
            if let reason = unremovable[module] {
                // One try without waiting: it may have become free after all.
                if (sysfs.referenceCount(of: module) ?? 0) == 0, (try? removeModule(module)) != nil {
                    unremovable[module] = nil
                    log.append("unloaded \(module)")
                } else {
                    log.append("not waiting again for \(module) to unload: \(reason)")
                }
                continue
            }
            do {
                try verbs.waitForZeroRefcount(of: module, deadline: Deadline(after: patience))
                try removeModule(module)
                log.append("unloaded \(module)")
            } catch let timeout as WaitTimeout {
                unremovable[module] = "its refcnt did not drop to 0 within \(bound)"
                log.append("could not unload \(module): \(timeout)")
            } catch {
                log.append("could not unload \(module): \(error)")
            }
        }
        return log
    }

    private func waitUntilGone(_ patch: String) -> [String] {
        do {
            try verbs.waitForPatchRemoval(patch, deadline: Deadline(after: patience))
            return []
        } catch {
            // Last resort: the kernel keeps a forced patch's module until reboot.
            let forced = describe("FORCED patch \(patch)'s transition (\(error))") {
                try verbs.forceTransition(of: patch)
            }
            unremovable[patch] = "its transition was forced; the kernel keeps a forced patch's module until reboot"
            let waited = (try? verbs.waitForPatchRemoval(patch, deadline: Deadline(after: patience))) != nil
            return [forced] + (waited ? [] : ["patch \(patch) is still in sysfs \(patience.secondsText) after force"])
        }
    }

    private func describe(_ what: String, _ body: () throws -> Void) -> String {
        do {
            try body()
            return what
        } catch {
            return "failed: \(what): \(error)"
        }
    }
}
