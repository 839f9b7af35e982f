/// The livepatch steps of the kernel's own selftest library,
/// `tools/testing/selftests/livepatch/functions.sh`, over sysfs: the waits of
/// its `load_lp`, `disable_lp` and `unload_mod`, and the writes the
/// scenario engine and the clean-up both make. Each wait names what it waited
/// for here, so a timeout reads the same wherever it happens.
///
/// Waits poll with `Deadline.wait` (every 2 ms) and throw its `WaitTimeout`,
/// or `WaitInterrupted` once `isCancelled` says so.
public struct LivepatchVerbs {
    public let sysfs: Sysfs

    public init(sysfs: Sysfs) { self.sysfs = sysfs }

    /// `load_lp`'s wait: the patch's `transition` reads 0.
    public func waitForTransition(of patch: String, deadline: Deadline, isCancelled: () -> Bool = { false }) throws {
        let transition = "\(sysfs.patchDirectory(patch))/transition"
        try deadline.wait(for: "\(patch)'s patching transition to finish (\(transition) = 0)", isCancelled: isCancelled) {
            (try? sysfs.isInTransition(patch)) == false
        }
    }

    /// `wait_for_transition`'s wait as a scenario action: no transition is
    /// under way for `patch`, because it finished or because the patch
    /// has left sysfs (or never was there).
    public func waitForSettledTransition(of patch: String, deadline: Deadline, isCancelled: () -> Bool = { false }) throws {
        let transition = "\(sysfs.patchDirectory(patch))/transition"
        try deadline.wait(for: "\(patch)'s transition to finish (\(transition) = 0, or the patch gone)", isCancelled: isCancelled) {
            !sysfs.isPatchPresent(patch) || (try? sysfs.isInTransition(patch)) == false
        }
    }

    /// The wait test-callbacks.sh's "busy target module" makes instead:
    /// `transition` reads 1, the transition has stalled.
    public func waitForStalledTransition(of patch: String, deadline: Deadline, isCancelled: () -> Bool = { false }) throws {
        let transition = "\(sysfs.patchDirectory(patch))/transition"
        try deadline.wait(for: "\(patch)'s transition to stall (\(transition) = 1)", isCancelled: isCancelled) {
            (try? sysfs.isInTransition(patch)) == true
        }
    }

    /// `disable_lp`'s wait: the patch has left /sys/kernel/livepatch.
    /// - Parameter context: appended to the condition, e.g. "after disable".
    public func waitForPatchRemoval(_ patch: String, context: String? = nil, deadline: Deadline,
                                    isCancelled: () -> Bool = { false }) throws {
        let condition = "patch \(patch) to leave \(sysfs.livepatchRoot)" + (context.map { " " + $0 } ?? "")
        try deadline.wait(for: condition, isCancelled: isCancelled) { !sysfs.isPatchPresent(patch) }
    }

    /// `unload_mod`'s wait before rmmod: the module's `refcnt` reads 0 (or it
    /// is gone).
    public func waitForZeroRefcount(of module: String, deadline: Deadline, isCancelled: () -> Bool = { false }) throws {
        try deadline.wait(for: "\(module)'s refcnt to drop to 0 (\(sysfs.moduleDirectory(module))/refcnt)",
                          isCancelled: isCancelled) {
            (sysfs.referenceCount(of: module) ?? 0) == 0
        }
    }

    /// `disable_lp`'s write: `echo 0 > /sys/kernel/livepatch/PATCH/enabled`.
    public func disable(_ patch: String) throws(KernelFileError) {
        try KernelFile.write("0", to: "\(sysfs.patchDirectory(patch))/enabled")
    }

    /// The last resort functions.sh never takes: `force` marks every task
    /// as switched. The kernel then never drops the patch module's reference
    /// (see "force" in Documentation/livepatch/livepatch.rst).
    public func forceTransition(of patch: String) throws(KernelFileError) {
        try KernelFile.write("1", to: "\(sysfs.patchDirectory(patch))/force")
    }

    /// Whether the busy test module's work function is held (its
    /// `block_transition` or `block_patched` parameter reads Y).
    public func isBlocking(_ module: String) -> Bool {
        !heldBlocks(of: module).isEmpty
    }

    /// Lets the busy test module's work function return, so transitions can
    /// finish: `echo N > /sys/module/MODULE/parameters/block_transition`, and
    /// the same for `block_patched` (the work held in a livepatch's
    /// replacement, which would stall disabling that patch).
    public func releaseBlock(of module: String) throws(KernelFileError) {
        for file in heldBlocks(of: module) {
            try KernelFile.write("N", to: file)
        }
    }

    /// The busy module's flags that read Y: block_transition holds the
    /// original work function, block_patched a livepatch's replacement
    /// (kmod/livepatch-callbacks-busymod.c).
    func heldBlocks(of module: String) -> [String] {
        ["block_transition", "block_patched"].map { sysfs.parameter($0, of: module) }.filter { file in
            KernelFile.exists(file) && (try? KernelFile.readValue(file)) == "Y"
        }
    }
}
