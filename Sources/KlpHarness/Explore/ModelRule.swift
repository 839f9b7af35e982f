/// The rules of `Documentation/livepatch/callbacks.rst` (and the kernel
/// behaviour around them) that the model encodes, one case each. The model
/// records which rules each step applied; the explorer's coverage is the
/// set of rules a run exercised.
public enum ModelRule: String, CaseIterable, Codable, Sendable {
    /// callbacks.rst, "Pre-patch": before a klp_object is patched; "A
    /// callback is only executed if its host klp_object is loaded".
    /// callbacks.txt Test 1.
    case prePatchForLoadedObjects = "pre-patch-for-loaded-objects"
    /// callbacks.rst, "Post-patch": after the object is patched and active
    /// across all tasks, so once the transition completes. Test 1.
    case postPatchAfterTransition = "post-patch-after-transition"
    /// callbacks.rst, "Pre-unpatch" before, "Post-unpatch" after the
    /// unpatching transition, each only where its counterpart ran. Test 1.
    case unpatchCallbacksOnDisable = "unpatch-callbacks-on-disable"
    /// callbacks.rst: "For patch target kernel modules, callbacks will only
    /// execute if the target module is loaded." Test 5.
    case absentTargetHasNoCallbacks = "absent-target-has-no-callbacks"
    /// callbacks.rst: "When a module target is (un)loaded, its callbacks
    /// will execute only if the livepatch module is enabled" (the
    /// module_coming handler). Test 2.
    case comingModulePatched = "coming-module-patched"
    /// The module_going handler: pre- and post-unpatch for the going
    /// module, after its exit function. Test 3.
    case goingModuleUnpatched = "going-module-unpatched"
    /// callbacks.rst: a failing pre-patch callback makes the loader "refuse
    /// to load a livepatch, if the livepatch is loaded after targeted
    /// code"; no unpatch callback runs for the object that failed. Test 6.
    case prePatchFailureRefusesLivepatch = "pre-patch-failure-refuses-livepatch"
    /// A pre-patch failure after objects whose pre-patch succeeded:
    /// klp_cancel_transition() (transition.c) completes an unpatching
    /// transition, whose post-unpatch callbacks run for those objects only
    /// (obj->callbacks.post_unpatch_enabled, set in klp_pre_patch_callback()).
    case prePatchFailureUnpatchesEarlierObjects = "pre-patch-failure-unpatches-earlier-objects"
    /// callbacks.rst: "Refuse to load a module, if the livepatch was
    /// already successfully loaded." Test 7. Branch "earlier patch lets
    /// go": a patch before the failing one on klp_patches (demo2 with
    /// mod_object=Y) had already taken the module; klp_module_coming()
    /// calls klp_cleanup_module_patches_limited() (core.c), which gives
    /// it pre-unpatch, "reverting patch", post-unpatch, with the module
    /// still COMING.
    case prePatchFailureRefusesModule = "pre-patch-failure-refuses-module"
    /// livepatch.rst, "Consistency model": a task sleeping in a function
    /// the patch replaces cannot be switched, so the transition stalls.
    /// Test 9 (busy target module).
    case stalledTransition = "stalled-transition"
    /// A module coming during a transition gets its pre-patch callback
    /// but no post-patch one until the transition completes. Test 9. In
    /// either direction: klp_module_coming() (core.c) applies every patch
    /// on klp_patches, the unpatching one included, and skips post-patch
    /// only for klp_transition_patch.
    case comingModuleDuringTransition = "coming-module-during-transition"
    /// A module going during a transition gets no pre-unpatch callback (its
    /// post-patch never ran) but its post-unpatch one. Test 9. In either
    /// direction: klp_cleanup_module_patches_limited() (core.c) skips
    /// pre-unpatch for klp_transition_patch only.
    case goingModuleDuringTransition = "going-module-during-transition"
    /// callbacks.rst: "If a patch transition is reversed, no pre-unpatch
    /// handlers will be run"; post-unpatch runs where pre-patch did. Test 9.
    case reversedTransition = "reversed-transition"
    /// A work sitting in the demo's replacement stalls an atomic replace:
    /// klp_check_stack_func() (kernel/livepatch/transition.c) checks the
    /// previous function on the ops' func_stack when patching.
    case stalledReplace = "stalled-replace"
    /// During a replace transition the replace patch has a nop object for
    /// each object of the replaced patches it lacks (klp_add_nops() in
    /// core.c): klp_module_coming() and klp_module_going() print "applying
    /// patch"/"reverting patch" for them, with no callbacks (a dynamic
    /// object has none); klp_discard_nops() drops them at completion.
    case nopObjectsDuringReplace = "nop-objects-during-replace"
    /// Until a replace transition completes, the replaced patch is still on
    /// klp_patches and is not klp_transition_patch, so klp_module_coming()
    /// gives a loading module its pre- and post-patch callbacks.
    case replacedPatchDuringReplace = "replaced-patch-during-replace"
    /// Disabling a stalled replace reverses it (klp_reverse_transition()):
    /// no pre-unpatch, post-unpatch for the replace's own objects, and the
    /// replaced patches stay enabled (klp_unpatch_replaced_patches() runs
    /// only when a replace completes its patching).
    case reversedReplace = "reversed-replace"
    /// A work sitting in the demo's replacement stalls disabling the demo:
    /// klp_check_stack_func() (kernel/livepatch/transition.c) checks
    /// func->new_func when the target is KLP_UNPATCHED.
    /// __klp_disable_patch() (core.c) has already run the pre-unpatch
    /// callbacks and printed "starting unpatching transition".
    case stalledUnpatch = "stalled-unpatch"
    /// `echo 1 > enabled` on a patch in a stalled unpatching transition is
    /// not EINVAL: enabled_store() (core.c) calls klp_reverse_transition()
    /// for klp_transition_patch in both directions. The patching
    /// transition completes (the work is in the new function; patching
    /// checks the original), and klp_complete_transition() runs post-patch
    /// for each loaded object; no pre-patch runs again.
    case reversedUnpatch = "reversed-unpatch"
    /// Only one transition at a time: loading a livepatch or disabling
    /// another patch during one fails with EBUSY (__klp_enable_patch() and
    /// __klp_disable_patch() in kernel/livepatch/core.c).
    case oneTransitionAtATime = "one-transition-at-a-time"
    /// test-callbacks.sh "atomic replace": the replacement's own callbacks
    /// run; the replaced patches get none of their unpatch callbacks and
    /// are freed (the thread "[PATCH v5 0/3] livepatch: introduce atomic
    /// replace").
    case atomicReplace = "atomic-replace"
    /// klp_enable_patch() takes a reference on the livepatch module, so an
    /// enabled (or transitioning) patch's module cannot be unloaded.
    case enabledPatchHoldsModule = "enabled-patch-holds-module"
    /// enabled_store(): writing the state a patch is already in is EINVAL
    /// ("Do not allow to re-enable a disabled patch" covers the rest):
    /// `echo 1` on an enabled or patching patch, `echo 0` on a patch in an
    /// unpatching transition (__klp_disable_patch() cleared
    /// patch->enabled when it started).
    case noSecondEnable = "no-second-enable"
    /// Several patches enabled side by side each run their own callbacks.
    /// test-callbacks.sh "multiple livepatches".
    case independentPatches = "independent-patches"
    /// A target module loaded under an enabled patch is patched before its
    /// init runs, so its work item already runs the replacement function
    /// (livepatch.rst: modules are patched as they load).
    case targetPatchedOnLoad = "target-patched-on-load"

    /// The ways a rule is applied that the explorer must each reach: the
    /// kind of object, the module, or the path that leads to it. Empty
    /// when the rule has one way only. Every branch listed here is
    /// reachable by the four modules (`SequenceGeneratorTests` checks that
    /// seed 1 reaches each in 200 sequences).
    public var branches: [String] {
        switch self {
        case .prePatchForLoadedObjects, .postPatchAfterTransition, .prePatchFailureRefusesLivepatch,
             .prePatchFailureUnpatchesEarlierObjects:
            ["vmlinux", "module"]
        case .comingModulePatched, .goingModuleUnpatched:
            [TestModule.target.name, TestModule.busyTarget.name]
        case .prePatchFailureRefusesModule:
            [TestModule.target.name, TestModule.busyTarget.name, "earlier patch lets go"]
        case .absentTargetHasNoCallbacks, .independentPatches: ["enable", "disable"]
        case .oneTransitionAtATime: ["insmod", "disable"]
        case .noSecondEnable: ["enabled", "in transition", "unpatching"]
        case .enabledPatchHoldsModule: ["enabled", "in transition"]
        case .comingModuleDuringTransition, .goingModuleDuringTransition: ["patching", "unpatching"]
        case .nopObjectsDuringReplace: ["applying", "reverting"]
        case .targetPatchedOnLoad: ["returns", "held"]
        default: []
        }
    }

    /// How a branch is named in explore.json and coverage.txt.
    public func branchName(_ branch: String) -> String { "\(rawValue)/\(branch)" }

    /// Every branch of every rule, by name.
    public static var allBranches: [String] { allCases.flatMap { rule in rule.branches.map(rule.branchName) } }

    /// One line for the coverage report.
    public var summary: String {
        switch self {
        case .prePatchForLoadedObjects: "enable: pre-patch for each loaded object, before the transition"
        case .postPatchAfterTransition: "enable: post-patch for each loaded object, after the transition"
        case .unpatchCallbacksOnDisable: "disable: pre-unpatch before, post-unpatch after the transition"
        case .absentTargetHasNoCallbacks: "a target module that is not loaded gets no callbacks"
        case .comingModulePatched: "a module loading under an enabled patch: pre- and post-patch (COMING)"
        case .goingModuleUnpatched: "a module unloading under an enabled patch: pre- and post-unpatch (GOING)"
        case .prePatchFailureRefusesLivepatch: "a failing pre-patch refuses the livepatch, cancels the transition"
        case .prePatchFailureUnpatchesEarlierObjects: "a pre-patch failing for one object: post-unpatch for the objects before it"
        case .prePatchFailureRefusesModule: "a failing pre-patch refuses the loading module"
        case .stalledTransition: "a busy task in a patched function stalls the transition"
        case .comingModuleDuringTransition: "a module loading mid-transition: pre-patch only"
        case .goingModuleDuringTransition: "a module unloading mid-transition: post-unpatch only"
        case .reversedTransition: "disabling a stalled patch reverses it: no pre-unpatch"
        case .stalledReplace: "a task in the replaced patch's function stalls an atomic replace"
        case .nopObjectsDuringReplace: "mid-replace, nop objects print applying/reverting lines, no callbacks"
        case .replacedPatchDuringReplace: "mid-replace, the replaced patch still gives a loading module pre- and post-patch"
        case .reversedReplace: "disabling a stalled replace reverses it; the replaced patch stays"
        case .stalledUnpatch: "a task in the disabled patch's function stalls its unpatching transition"
        case .reversedUnpatch: "enabling a stalled unpatch reverses it: post-patch again, no pre-patch"
        case .oneTransitionAtATime: "a second transition during one is refused (EBUSY)"
        case .atomicReplace: "atomic replace: replaced patches get no unpatch callbacks"
        case .enabledPatchHoldsModule: "an enabled patch's module cannot be unloaded"
        case .noSecondEnable: "writing the state a patch is in to enabled is refused (EINVAL)"
        case .independentPatches: "patches side by side each run their own callbacks"
        case .targetPatchedOnLoad: "a target loaded under the patch runs the replacement at once"
        }
    }
}
