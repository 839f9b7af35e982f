/// Brings the kernel back to "no test module loaded, no test patch in
/// sysfs", whatever a scenario left behind, and says what it had to do.
public struct KernelCleaner {
    public var kmod: KmodContext
    public var sysfs: Sysfs
    public var catalog: ModuleCatalog
    /// How long a patch may take to leave sysfs before the `force` knob is used.
    public var patience: Duration = .seconds(20)

    /// Test modules loaded now.
    public func leftovers() -> Set<String> {
        SystemState.loadedModules().intersection(catalog.names)
    }

    public func isClean() -> Bool {
        leftovers().isEmpty && sysfs.patches().allSatisfy { !catalog.names.contains($0) }
    }

    /// Releases blocks, disables our patches, then unloads livepatches before
    /// their targets. Returns one line per thing it did; empty when clean.
    /// Never abandoned on SIGINT/SIGTERM: it is what those paths rely on.
    @discardableResult
    public func clean() -> [String] {
        var log: [String] = []
        let loaded = leftovers()
        // 1. A blocked work function would stall every transition below.
        for module in loaded.sorted() {
            let block = sysfs.parameter("block_transition", of: module)
            if KernelFile.exists(block), (try? KernelFile.readValue(block)) == "Y" {
                log.append(describe("released \(module)'s block_transition") {
                    try KernelFile.write("N", to: block)
                })
            }
        }
        // 2. Disable our patches and wait until each has left sysfs.
        for patch in sysfs.patches() where catalog.names.contains(patch) {
            if (try? sysfs.isEnabled(patch)) == true {
                log.append(describe("disabled patch \(patch)") {
                    try KernelFile.write("0", to: "\(sysfs.patchDirectory(patch))/enabled")
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
            let deadline = Deadline(after: patience)
            do {
                try deadline.wait(for: "\(module)'s refcnt to drop to 0") {
                    (sysfs.referenceCount(of: module) ?? 0) == 0
                }
                try kmod.removeModule(named: module)
                log.append("unloaded \(module)")
            } catch {
                log.append("could not unload \(module): \(error)")
            }
        }
        return log
    }

    private func waitUntilGone(_ patch: String) -> [String] {
        let condition = "patch \(patch) to leave \(sysfs.livepatchRoot)"
        do {
            try Deadline(after: patience).wait(for: condition) { !sysfs.isPatchPresent(patch) }
            return []
        } catch {
            // Last resort: force marks every task as switched. The kernel then
            // refuses to unload the patch module, which the report will show.
            let forced = describe("FORCED patch \(patch)'s transition (\(error))") {
                try KernelFile.write("1", to: "\(sysfs.patchDirectory(patch))/force")
            }
            let waited = (try? Deadline(after: patience).wait(for: condition) { !sysfs.isPatchPresent(patch) }) != nil
            return [forced] + (waited ? [] : ["patch \(patch) is still in sysfs after force"])
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
