/// The four test modules of kmod/, as the model and the explorer know them.
public enum TestModule: String, CaseIterable, Codable, Sendable {
    case target = "livepatch_callbacks_mod"
    case busyTarget = "livepatch_callbacks_busymod"
    case demo = "livepatch_callbacks_demo"
    case demo2 = "livepatch_callbacks_demo2"

    /// The name the kernel knows it by (and prefixes its lines with).
    public var name: String { rawValue }

    /// The `.ko` file in the module directory.
    public var file: String { rawValue.replacing("_", with: "-") + ".ko" }

    public var isLivepatch: Bool { self == .demo || self == .demo2 }
}

/// One step of a generated sequence: what a kernel developer does by hand
/// with the test modules. Each renders as one scenario action line; the
/// model decides the details the kernel's behaviour dictates (the `&` of a
/// load that stalls).
public enum ExploreAction: Hashable, Codable, Sendable {
    /// `insmod livepatch-callbacks-mod.ko`
    case loadTarget
    /// `insmod livepatch-callbacks-busymod.ko block_transition=Y|N`
    case loadBusyTarget(blocking: Bool)
    /// `insmod livepatch-callbacks-busymod.ko block_patched=Y`: under the
    /// demo, its work item stays in the demo's replacement function, so a
    /// patch that replaces the demo (atomic replace) stalls, and so does
    /// disabling the demo.
    case loadBusyTargetHoldingPatch
    /// `echo N > /sys/module/livepatch_callbacks_busymod/parameters/block_patched`:
    /// returns once the work has left the replacement (busymod's setter
    /// flushes the work), so nothing is left to happen after it.
    case releasePatchedWork
    /// `insmod livepatch-callbacks-demo.ko [pre_patch_ret=-19]`
    case loadDemo(prePatchFails: Bool)
    /// `insmod livepatch-callbacks-demo.ko pre_patch_ret=-19
    /// pre_patch_fail_object=MODULE`: only that object's pre-patch fails.
    case loadDemoFailingOnly(TestModule)
    /// `insmod livepatch-callbacks-demo2.ko [replace=1]`
    case loadDemo2(replace: Bool)
    /// `insmod livepatch-callbacks-demo2.ko mod_object=Y`: demo2 with a
    /// second object, for livepatch_callbacks_mod (callbacks only). Loaded
    /// before the demo, it is an earlier patch on klp_patches that takes
    /// the target, so the demo refusing the target makes it let the
    /// target go (klp_cleanup_module_patches_limited(), core.c).
    ///
    /// Never with replace=1: a replacing patch with a real object for the
    /// target would change which of its objects are nops (klp_add_nops()
    /// adds one only for an object the new patch lacks), and the replace
    /// rules are modelled and reached with the nop objects as they are.
    case loadDemo2WithModObject
    /// `rmmod NAME`
    case unload(TestModule)
    /// `echo 0 > /sys/kernel/livepatch/PATCH/enabled [&]`: with `&` when
    /// the unpatching transition stalls (the work sits in the demo's
    /// replacement).
    case disable(TestModule)
    /// `echo 1 > /sys/kernel/livepatch/PATCH/enabled`: EINVAL, except on a
    /// patch in an unpatching transition, which it reverses.
    case enable(TestModule)
    /// `echo -19|0 > /sys/module/livepatch_callbacks_demo/parameters/pre_patch_ret`
    case setPrePatchRet(fails: Bool)
    /// `wait_for_transition PATCH`: parsed, never generated (see
    /// `CallbackModel.allows(_:in:)`).
    case waitForTransition(TestModule)
    /// `insmod livepatch-callbacks-crash.ko crash=oops`: test only, never
    /// generated. kmod/livepatch-callbacks-crash.c oopses in its pre-patch
    /// callback, and the guest's `oops=panic` turns that into a panic: the
    /// explorer's own test (`explore --crash-in-sequence K`) seeds a
    /// kernel crash with it to prove a crash is recorded, shrunk, and the
    /// run goes on after a new boot.
    case loadCrashModule

    /// The test-only module `loadCrashModule` loads.
    public static let crashModuleFile = "livepatch-callbacks-crash.ko"

    /// The errno the demo's pre-patch callback returns when told to fail.
    ///
    /// Only negative values are generated. The callers of
    /// klp_pre_patch_callback() in kernel/livepatch/core.c test `if (ret)`,
    /// so a positive value fails klp_enable_patch() as an error does, and
    /// the demo's init returns it; but do_init_module()
    /// (kernel/module/main.c) takes a positive return of init for success
    /// ("init suspiciously returned 1, it should follow 0/-E convention ...
    /// loading module anyway"), so the module stays loaded with no patch in
    /// sysfs and the harness's insmod reports success. That is a misuse of
    /// the callback API (Documentation/livepatch/callbacks.rst: "0 for
    /// success, -ERRNO on error"), not a callback rule: the explorer leaves
    /// it out rather than model a loader quirk.
    public static let prePatchError = -19

    /// The scenario action line, without `% ` (a stalling load adds ` &`).
    public func command(stalls: Bool = false) -> String {
        switch self {
        case .loadTarget:
            "insmod \(TestModule.target.file)"
        case .loadBusyTarget(let blocking):
            "insmod \(TestModule.busyTarget.file) block_transition=\(blocking ? "Y" : "N")"
        case .loadBusyTargetHoldingPatch:
            "insmod \(TestModule.busyTarget.file) block_patched=Y"
        case .releasePatchedWork:
            "echo N > /sys/module/\(TestModule.busyTarget.name)/parameters/block_patched"
        case .loadDemo(let fails):
            "insmod \(TestModule.demo.file)" + (fails ? " pre_patch_ret=\(Self.prePatchError)" : "") + (stalls ? " &" : "")
        case .loadDemoFailingOnly(let object):
            "insmod \(TestModule.demo.file) pre_patch_ret=\(Self.prePatchError) pre_patch_fail_object=\(object.name)" + (stalls ? " &" : "")
        case .loadDemo2(let replace):
            "insmod \(TestModule.demo2.file)" + (replace ? " replace=1" : "") + (stalls ? " &" : "")
        case .loadDemo2WithModObject:
            "insmod \(TestModule.demo2.file) mod_object=Y" + (stalls ? " &" : "")
        case .unload(let module):
            "rmmod \(module.name)"
        case .disable(let patch):
            "echo 0 > /sys/kernel/livepatch/\(patch.name)/enabled" + (stalls ? " &" : "")
        case .enable(let patch):
            "echo 1 > /sys/kernel/livepatch/\(patch.name)/enabled"
        case .setPrePatchRet(let fails):
            "echo \(fails ? Self.prePatchError : 0) > /sys/module/\(TestModule.demo.name)/parameters/pre_patch_ret"
        case .waitForTransition(let patch):
            "wait_for_transition \(patch.name)"
        case .loadCrashModule:
            "insmod \(Self.crashModuleFile) crash=oops"
        }
    }

    /// The module the action loads, if it is a load.
    public var loadedModule: TestModule? {
        switch self {
        case .loadTarget: .target
        case .loadBusyTarget, .loadBusyTargetHoldingPatch: .busyTarget
        case .loadDemo, .loadDemoFailingOnly: .demo
        case .loadDemo2, .loadDemo2WithModObject: .demo2
        default: nil
        }
    }

    /// The explore action a scenario step stands for, or nil when the step
    /// is outside the model's alphabet (another parameter, another value).
    public init?(_ action: Action) {
        switch action {
        case .insert(let file, let parameters, _):
            switch (file, parameters) {
            case (TestModule.target.file, []): self = .loadTarget
            case (TestModule.busyTarget.file, ["block_transition=Y"]): self = .loadBusyTarget(blocking: true)
            case (TestModule.busyTarget.file, ["block_transition=N"]): self = .loadBusyTarget(blocking: false)
            case (TestModule.busyTarget.file, ["block_patched=Y"]): self = .loadBusyTargetHoldingPatch
            case (TestModule.demo.file, []): self = .loadDemo(prePatchFails: false)
            case (TestModule.demo.file, ["pre_patch_ret=\(Self.prePatchError)"]): self = .loadDemo(prePatchFails: true)
            case (TestModule.demo.file, _) where parameters.count == 2 && parameters[0] == "pre_patch_ret=\(Self.prePatchError)"
                && parameters[1].hasPrefix("pre_patch_fail_object="):
                guard let object = TestModule(rawValue: String(parameters[1].dropFirst("pre_patch_fail_object=".count))),
                      !object.isLivepatch else { return nil }
                self = .loadDemoFailingOnly(object)
            case (TestModule.demo2.file, []): self = .loadDemo2(replace: false)
            case (TestModule.demo2.file, ["replace=1"]): self = .loadDemo2(replace: true)
            case (TestModule.demo2.file, ["mod_object=Y"]): self = .loadDemo2WithModObject
            case (Self.crashModuleFile, ["crash=oops"]): self = .loadCrashModule
            default: return nil
            }
        case .remove(let name):
            guard let module = TestModule(rawValue: ModuleName.normalized(name)) else { return nil }
            self = .unload(module)
        case .write(let value, .patchEnabled(let patch), _):
            guard let module = TestModule(rawValue: patch), module.isLivepatch else { return nil }
            switch value {
            case "0": self = .disable(module)
            case "1": self = .enable(module)
            default: return nil
            }
        case .write(let value, .moduleParameter(TestModule.demo.name, "pre_patch_ret"), _):
            switch value {
            case "\(Self.prePatchError)": self = .setPrePatchRet(fails: true)
            case "0": self = .setPrePatchRet(fails: false)
            default: return nil
            }
        case .write("N", .moduleParameter(TestModule.busyTarget.name, "block_patched"), _):
            self = .releasePatchedWork
        case .write:
            return nil
        case .waitForTransition(let patch):
            guard let module = TestModule(rawValue: patch), module.isLivepatch else { return nil }
            self = .waitForTransition(module)
        case .checkSysfsRights, .checkSysfsValue, .grep, .sysctl, .spawn, .kill, .waitForValue:
            return nil
        }
    }
}
