/// An executable model of the livepatch callback rules for the four test
/// modules: given a sequence of actions, the exact transcript a kernel
/// prints for it (action lines, kernel lines and the error lines the
/// runner writes for a refused action), in the scenario format.
///
/// It follows `Documentation/livepatch/callbacks.rst` and, where the
/// document says nothing about ordering or messages, the code it describes
/// (`kernel/livepatch/core.c` and `transition.c` of 6.1 and 6.12, which
/// agree): each rule it applies is a `ModelRule`, recorded for coverage.
///
/// A transition either completes before the action that started it
/// returns (the runner waits for it) or stalls on the busy module's work
/// function (the original, or the demo's replacement when a replace moves
/// away from it or the demo is disabled); there is no third case with
/// these modules. A stall ends only by reversal (see `allows(_:in:)` for
/// why).
public struct CallbackModel: Sendable {
    /// Test-only wrong rules: the explorer must catch each of them.
    public enum Mutation: String, CaseIterable, Codable, Sendable {
        /// Forgets that a module coming during a transition gets no
        /// post-patch callback until the transition completes.
        case postPatchForComingModuleDuringTransition = "post-patch-for-coming-module-during-transition"
        /// Forgets that a replace in transition has nop objects, so a
        /// target coming or going then gets no "applying"/"reverting" line
        /// for the replace (a branch only the stalled replace reaches).
        case nopObjectsPrintNothing = "nop-objects-print-nothing"
    }

    public var mutation: Mutation?

    public init(mutation: Mutation? = nil) { self.mutation = mutation }

    // MARK: State

    /// A klp_object: vmlinux (nil module) or a target module.
    struct Object: Sendable, Equatable {
        var module: TestModule?
        /// obj->patched: the object's functions are on the patch's stack.
        var patched = false
        /// obj->callbacks.post_unpatch_enabled: its pre-patch callback ran
        /// and succeeded, so its post-unpatch one may run.
        var postUnpatchEnabled = false
        /// obj->dynamic: a nop object klp_add_nops() (core.c) gave a replace
        /// patch for an object of a patch it replaces. It has no callbacks,
        /// and klp_discard_nops() drops it when the transition completes.
        var nop = false

        var label: String { module?.name ?? "vmlinux" }
    }

    /// A klp_patch on the kernel's list (enabled, or in transition).
    struct Patch: Sendable, Equatable {
        var module: TestModule
        var replace: Bool
        var objects: [Object]

        var name: String { module.name }

        /// Only livepatch_callbacks_demo replaces a function, the busy
        /// module's work function; every other object has callbacks only.
        var replacesBusyWork: Bool { module == .demo }

        /// - Parameter modObject: demo2 loaded with mod_object=Y, which
        ///   adds an object for livepatch_callbacks_mod.
        static func new(_ module: TestModule, replace: Bool, modObject: Bool = false) -> Patch {
            let targets: [TestModule?] = module == .demo ? [nil, .target, .busyTarget] : modObject ? [nil, .target] : [nil]
            return Patch(module: module, replace: replace, objects: targets.map { Object(module: $0) })
        }
    }

    enum Direction: Sendable, Equatable {
        case patching, unpatching

        var word: String { self == .patching ? "patching" : "unpatching" }
    }

    struct Transition: Sendable, Equatable {
        var patch: TestModule
        var direction: Direction
    }

    /// The kernel's state as far as the transcript depends on it.
    public struct State: Sendable, Equatable {
        /// Loaded modules, livepatches included (also after their patch was
        /// disabled or replaced, until rmmod).
        var loaded: Set<TestModule> = []
        /// klp_patches, in load order.
        var patches: [Patch] = []
        /// The patch in a stalled transition, and its direction.
        var transition: Transition?
        /// The busy module's work function is looping in the original
        /// function (loaded with block_transition=Y, unpatched then).
        var busyWorkBlocking = false
        /// The busy module's work is looping in the demo's replacement
        /// (loaded with block_patched=Y under the demo).
        var patchedWorkBlocking = false
        /// The demo's pre_patch_ret makes its pre-patch callbacks fail.
        var prePatchFails = false
        /// The demo's pre_patch_fail_object: only this object's pre-patch
        /// returns pre_patch_ret (nil: every object's).
        var prePatchFailObject: TestModule?

        /// Whether the demo's pre-patch callback fails for `object`.
        func prePatchFails(for object: Object) -> Bool {
            prePatchFails && (prePatchFailObject == nil || prePatchFailObject == object.module)
        }

        public init() {}

        /// Nothing loaded: where every sequence starts and ends.
        public var isClean: Bool { loaded.isEmpty }

        func patch(_ module: TestModule) -> Patch? { patches.first { $0.module == module } }

        func isLoaded(_ object: Object) -> Bool { object.module.map { loaded.contains($0) } ?? true }

        /// For coverage: where the rules differ.
        public var phase: Phase {
            if transition != nil { return .stalled }
            return patches.isEmpty ? .noPatch : .patched
        }
    }

    public enum Phase: String, CaseIterable, Codable, Sendable {
        case noPatch = "no patch"
        case patched = "patch enabled"
        case stalled = "transition stalled"
    }

    /// What one action did: its action line, what the kernel printed (and
    /// the runner's error line when it was refused), and the rules applied.
    public struct Step: Sendable, Equatable {
        public var command: String
        public var lines: [String]
        public var rules: Set<ModelRule>
        /// The branches of those rules taken (`ModelRule.branchName(_:)`).
        public var branches: Set<String> = []
        public var phase: Phase
    }

    // MARK: Validity

    /// Whether `action` makes sense in `state`: the explorer generates only
    /// these, and a shrunk sequence must keep to them. An action the kernel
    /// refuses (EBUSY, EINVAL, a module in use) is valid: the refusal is a
    /// rule. Loading a loaded module, unloading an absent one or writing a
    /// knob that is not there is not: it says nothing about callbacks.
    ///
    /// Every allowed action prints a transcript with one order. Two that
    /// would not are left out:
    /// - `rmmod livepatch_callbacks_busymod` while a transition is stalled
    ///   on its work. delete_module() runs the module's exit, where the
    ///   work returns, before klp_module_going() takes klp_mutex; if
    ///   klp_transition_work_fn() (the 1 s retry, kernel/livepatch/
    ///   transition.c) runs in between, the transition completes first and
    ///   post-patch reaches busymod as `[MODULE_STATE_GOING]`, then the
    ///   module is unpatched; otherwise klp_module_going() comes first.
    ///   The kernel's test-callbacks.sh ("busy target module") likewise
    ///   removes the busy module only after the patch is gone.
    /// - Releasing the busy task during a stall, then `wait_for_transition`:
    ///   the kernel's lines come in one order, but the transition completes
    ///   on that same 1 s retry clock, which may fire before or after the
    ///   runner writes the wait's marker. So a stall ends only by reversal:
    ///   enabled_store() starts it and the runner waits, within the same
    ///   action, for the patch to go.
    ///
    /// A stalled unpatch (`echo 0 > enabled &` while the work sits in the
    /// demo's replacement) likewise ends only by reversal, `echo 1 >
    /// enabled`, which the runner waits for: releasing the work instead
    /// would end it on the same 1 s retry clock.
    ///
    /// `force` is never generated, on a replace or anywhere:
    /// klp_force_transition() (kernel/livepatch/transition.c) marks the
    /// patches being removed as forced (the unpatching patch itself, or on
    /// a replace every patch it replaces), and klp_free_patch_finish()
    /// (core.c) then never calls module_put() on a forced patch's module
    /// (Documentation/livepatch/livepatch.rst, "force"), so a test module
    /// would stay loaded until reboot and every later sequence would start
    /// from an unclean kernel.
    public func allows(_ action: ExploreAction, in state: State) -> Bool {
        switch action {
        case .loadTarget, .loadBusyTarget, .loadBusyTargetHoldingPatch, .loadDemo, .loadDemoFailingOnly, .loadDemo2,
             .loadDemo2WithModObject:
            return action.loadedModule.map { !state.loaded.contains($0) } ?? false
        case .unload(let module):
            return state.loaded.contains(module) && !(module == .busyTarget && state.transition != nil)
        case .disable(let patch):
            return state.patch(patch) != nil
        case .enable(let patch):
            return state.patch(patch) != nil
        case .setPrePatchRet(let fails):
            return state.loaded.contains(.demo) && fails != state.prePatchFails
        case .releasePatchedWork:
            // Not during a stalled replace: that is the release above.
            return state.patchedWorkBlocking && state.transition == nil
        case .waitForTransition:
            return false
        case .loadCrashModule:
            // Allowed anywhere: the kernel dies, so what follows does not
            // matter (where it oopses is Explorer.seedingCrash(in:model:)'s
            // concern).
            return true
        }
    }

    // MARK: Prediction

    /// The whole transcript of `actions` from a clean kernel, or nil if an
    /// action is not allowed where it comes.
    public func transcript(of actions: [ExploreAction]) -> [String]? {
        var state = State()
        var lines: [String] = []
        for action in actions {
            guard let step = apply(action, to: &state) else { return nil }
            lines.append("% \(step.command)")
            lines += step.lines
        }
        return lines
    }

    /// Performs `action` on `state`; nil if it is not allowed there.
    public func apply(_ action: ExploreAction, to state: inout State) -> Step? {
        guard allows(action, in: state) else { return nil }
        var run = Run(model: self, state: state)
        let phase = state.phase
        var stalls = false
        switch action {
        case .loadTarget:
            run.load(.target, blocking: false)
        case .loadBusyTarget(let blocking):
            run.load(.busyTarget, blocking: blocking)
        case .loadBusyTargetHoldingPatch:
            run.load(.busyTarget, blocking: false, holdingPatch: true)
        case .releasePatchedWork:
            // Silent: the replacement prints nothing when it leaves.
            run.state.patchedWorkBlocking = false
        case .loadDemo(let fails):
            stalls = run.loadLivepatch(action, replace: false, prePatchFails: fails)
        case .loadDemoFailingOnly(let object):
            stalls = run.loadLivepatch(action, replace: false, prePatchFails: true, failObject: object)
        case .loadDemo2(let replace):
            stalls = run.loadLivepatch(action, replace: replace, prePatchFails: false)
        case .loadDemo2WithModObject:
            stalls = run.loadLivepatch(action, replace: false, prePatchFails: false)
        case .unload(let module):
            module.isLivepatch ? run.unloadLivepatch(module) : run.unload(module)
        case .disable(let patch):
            stalls = run.disable(patch)
        case .enable(let patch):
            run.enable(patch)
        case .setPrePatchRet(let fails):
            run.state.prePatchFails = fails
        case .waitForTransition:
            break // never allowed: see allows(_:in:)
        case .loadCrashModule:
            break // test only: predicts nothing, the kernel panics
        }
        state = run.state
        return Step(command: action.command(stalls: stalls), lines: run.lines, rules: run.rules, branches: run.branches, phase: phase)
    }

    /// The actions that bring `state` back to a clean kernel: reverse a
    /// stalled transition (`echo 0` a patching one, `echo 1` an unpatching
    /// one), release a work held in the demo's replacement,
    /// disable every patch (newest first), then unload the livepatches and
    /// the targets.
    public func teardown(from state: State) -> [ExploreAction] {
        var state = state
        var actions: [ExploreAction] = []
        func take(_ action: ExploreAction) {
            guard apply(action, to: &state) != nil else { return }
            actions.append(action)
        }
        if let transition = state.transition {
            take(transition.direction == .patching ? .disable(transition.patch) : .enable(transition.patch))
        }
        if state.patchedWorkBlocking { take(.releasePatchedWork) }
        for patch in state.patches.reversed() { take(.disable(patch.module)) }
        for module in [TestModule.demo2, .demo, .target, .busyTarget] where state.loaded.contains(module) {
            take(.unload(module))
        }
        return actions
    }

    /// One action's effect, written as the kernel's functions run.
    struct Run {
        let model: CallbackModel
        var state: State
        var lines: [String] = []
        var rules: Set<ModelRule> = []
        var branches: Set<String> = []

        mutating func say(_ line: String) { lines.append(line) }

        /// Records `rule`, and its `branch` (one of `rule.branches`).
        mutating func took(_ rule: ModelRule, _ branch: String) {
            rules.insert(rule)
            branches.insert(rule.branchName(branch))
        }

        /// The runner's line for a refused action: the engine's own format,
        /// for the action the scenario line parses to.
        mutating func refuse(_ action: ExploreAction, errno: String, rule: ModelRule, branch: String) {
            if let parsed = try? ScenarioParser.parseAction(action.command(), path: "model", line: 0) {
                say(parsed.errorLine(errno, sysfs: Sysfs()))
            }
            took(rule, branch)
        }

        /// What the demos' callbacks print (callback_info() in both); demo2
        /// has a vmlinux object, and one for livepatch_callbacks_mod with
        /// mod_object=Y.
        mutating func callback(_ name: String, _ patch: Patch, _ object: Object, _ moduleState: String) {
            if let module = object.module {
                say("\(patch.name): \(name): \(module.name) -> \(moduleState)")
            } else {
                say("\(patch.name): \(name): vmlinux")
            }
        }

        static let live = "[MODULE_STATE_LIVE] Normal state"
        static let coming = "[MODULE_STATE_COMING] Full formed, running module_init"
        static let going = "[MODULE_STATE_GOING] Going away"

        /// The transition in progress is an atomic replace.
        var replaceInTransition: Bool {
            state.transition.flatMap { state.patch($0.patch) }?.replace == true
        }

        func index(of patch: TestModule) -> Int? { state.patches.firstIndex { $0.module == patch } }

        // MARK: Livepatches

        /// insmod of a livepatch: klp_enable_patch(). Returns whether its
        /// transition stalls (the load is then written with `&`).
        mutating func loadLivepatch(_ action: ExploreAction, replace: Bool, prePatchFails: Bool, failObject: TestModule? = nil) -> Bool {
            guard let module = action.loadedModule else { return false }
            if state.transition != nil {
                // __klp_enable_patch(): "if (klp_transition_patch) return
                // -EBUSY", before anything is printed.
                refuse(action, errno: "Device or resource busy", rule: .oneTransitionAtATime, branch: "insmod")
                return false
            }
            var patch = Patch.new(module, replace: replace, modObject: action == .loadDemo2WithModObject)
            if replace {
                // klp_add_nops(): a nop object for each object of the
                // patches being replaced that the new patch lacks.
                for old in state.patches {
                    for object in old.objects where !patch.objects.contains(where: { $0.module == object.module }) {
                        patch.objects.append(Object(module: object.module, nop: true))
                    }
                }
            }
            if !state.patches.isEmpty { took(.independentPatches, "enable") }
            say("livepatch: enabling patch '\(patch.name)'")
            say("livepatch: '\(patch.name)': initializing patching transition")
            if module == .demo {
                state.prePatchFails = prePatchFails
                state.prePatchFailObject = failObject
            }
            for index in patch.objects.indices {
                let object = patch.objects[index]
                guard state.isLoaded(object) else {
                    took(.absentTargetHasNoCallbacks, "enable")
                    continue
                }
                if object.nop {
                    // Patched like any loaded object, with no callback.
                    patch.objects[index].patched = true
                    continue
                }
                callback("pre_patch_callback", patch, object, Self.live)
                took(.prePatchForLoadedObjects, object.module == nil ? "vmlinux" : "module")
                if module == .demo && state.prePatchFails(for: object) {
                    // No post-unpatch for the object that failed; the
                    // transition is cancelled (klp_cancel_transition()
                    // completes an unpatching one: post-unpatch for the
                    // objects before it, whose pre-patch succeeded) and
                    // the module refused.
                    say("livepatch: pre-patch callback failed for object '\(object.label)'")
                    say("livepatch: failed to enable patch '\(patch.name)'")
                    say("livepatch: '\(patch.name)': canceling patching transition, going to unpatch")
                    say("livepatch: '\(patch.name)': completing unpatching transition")
                    for earlier in patch.objects[..<index] where earlier.postUnpatchEnabled && state.isLoaded(earlier) {
                        callback("post_unpatch_callback", patch, earlier, Self.live)
                        took(.prePatchFailureUnpatchesEarlierObjects, earlier.module == nil ? "vmlinux" : "module")
                    }
                    say("livepatch: '\(patch.name)': unpatching complete")
                    refuse(action, errno: "No such device", rule: .prePatchFailureRefusesLivepatch,
                           branch: object.module == nil ? "vmlinux" : "module")
                    state.prePatchFails = false
                    state.prePatchFailObject = nil
                    return false
                }
                patch.objects[index].postUnpatchEnabled = true
                patch.objects[index].patched = true
            }
            say("livepatch: '\(patch.name)': starting patching transition")
            state.loaded.insert(module)
            state.patches.append(patch)
            if patch.replacesBusyWork && state.loaded.contains(.busyTarget) && state.busyWorkBlocking {
                state.transition = Transition(patch: module, direction: .patching)
                rules.insert(.stalledTransition)
                return true
            }
            if replace && state.patchedWorkBlocking {
                // klp_check_stack_func() (transition.c), patching: with
                // more than one function on the ops' func_stack it checks
                // the previous one, the demo's replacement, where the work
                // sits; the replace's nop function cannot be switched to.
                state.transition = Transition(patch: module, direction: .patching)
                rules.insert(.stalledReplace)
                return true
            }
            state.transition = Transition(patch: module, direction: .patching)
            complete(module)
            return false
        }

        /// klp_complete_transition() and what follows it.
        mutating func complete(_ module: TestModule) {
            guard let transition = state.transition, transition.patch == module, let at = index(of: module) else { return }
            let patch = state.patches[at]
            let direction = transition.direction
            say("livepatch: '\(patch.name)': completing \(direction.word) transition")
            if direction == .patching && patch.replace && at > 0 {
                // klp_unpatch_replaced_patches(): the replaced patches are
                // unpatched and freed without any callback.
                state.patches.removeFirst(at)
                rules.insert(.atomicReplace)
            }
            guard let current = index(of: module) else { return }
            if direction == .patching && patch.replace {
                // klp_discard_nops(), before the post-patch callbacks.
                state.patches[current].objects.removeAll { $0.nop }
            }
            for objectIndex in state.patches[current].objects.indices {
                let object = state.patches[current].objects[objectIndex]
                guard state.isLoaded(object) else { continue }
                if direction == .patching {
                    callback("post_patch_callback", patch, object, Self.live)
                    took(.postPatchAfterTransition, object.module == nil ? "vmlinux" : "module")
                } else {
                    if object.postUnpatchEnabled {
                        callback("post_unpatch_callback", patch, object, Self.live)
                    }
                    state.patches[current].objects[objectIndex].postUnpatchEnabled = false
                    state.patches[current].objects[objectIndex].patched = false
                }
            }
            say("livepatch: '\(patch.name)': \(direction.word) complete")
            state.transition = nil
            if direction == .unpatching {
                // klp_free_patch_async(): the patch leaves sysfs and drops
                // its module reference; the module stays until rmmod.
                state.patches.remove(at: current)
            }
        }

        /// echo 0 > enabled: enabled_store(). Returns whether the unpatching
        /// transition stalls (the write is then written with `&`).
        mutating func disable(_ module: TestModule) -> Bool {
            let name = module.name
            if let transition = state.transition, transition.patch == module {
                if transition.direction == .unpatching {
                    // enabled_store(): patch->enabled is already false
                    // (__klp_disable_patch() cleared it), "already in
                    // requested state".
                    refuse(.disable(module), errno: "Invalid argument", rule: .noSecondEnable, branch: "unpatching")
                    return false
                }
                // klp_reverse_transition(): no pre-unpatch callbacks.
                say("livepatch: '\(name)': reversing transition from patching to unpatching")
                say("livepatch: '\(name)': starting unpatching transition")
                state.transition = Transition(patch: module, direction: .unpatching)
                rules.insert(replaceInTransition ? .reversedReplace : .reversedTransition)
                complete(module)
                return false
            }
            if state.transition != nil {
                refuse(.disable(module), errno: "Device or resource busy", rule: .oneTransitionAtATime, branch: "disable")
                return false
            }
            guard let at = index(of: module) else { return false }
            if state.patches.count > 1 { took(.independentPatches, "disable") }
            say("livepatch: '\(name)': initializing unpatching transition")
            for object in state.patches[at].objects where !object.nop {
                if object.patched && state.isLoaded(object) {
                    callback("pre_unpatch_callback", state.patches[at], object, Self.live)
                } else if !state.isLoaded(object) {
                    took(.absentTargetHasNoCallbacks, "disable")
                }
            }
            say("livepatch: '\(name)': starting unpatching transition")
            rules.insert(.unpatchCallbacksOnDisable)
            state.transition = Transition(patch: module, direction: .unpatching)
            if state.patches[at].replacesBusyWork && state.patchedWorkBlocking {
                // klp_check_stack_func() (transition.c), unpatching: it
                // checks func->new_func, the demo's replacement, where the
                // work sits; klp_try_complete_transition() retries each
                // second and prints nothing.
                rules.insert(.stalledUnpatch)
                return true
            }
            complete(module)
            return false
        }

        /// echo 1 > enabled: enabled_store().
        mutating func enable(_ module: TestModule) {
            guard let transition = state.transition, transition.patch == module, transition.direction == .unpatching else {
                // The patch is enabled, or patching: EINVAL ("Do not allow
                // to re-enable a disabled patch" covers the rest, and a
                // disabled patch has left sysfs).
                refuse(.enable(module), errno: "Invalid argument", rule: .noSecondEnable,
                       branch: state.transition?.patch == module ? "in transition" : "enabled")
                return
            }
            // klp_reverse_transition(): prints, then klp_start_transition();
            // it does not try to finish. klp_transition_work_fn(), already
            // scheduled by the stalled unpatch, completes it within a
            // second: the work is in the replacement, and patching checks
            // the previous function, the original. klp_complete_transition()
            // then runs post-patch for every loaded object, those whose
            // pre-unpatch already ran included; no pre-patch runs again.
            say("livepatch: '\(module.name)': reversing transition from unpatching to patching")
            say("livepatch: '\(module.name)': starting patching transition")
            state.transition = Transition(patch: module, direction: .patching)
            rules.insert(.reversedUnpatch)
            complete(module)
        }

        /// rmmod of a livepatch: refused while its patch holds the module.
        mutating func unloadLivepatch(_ module: TestModule) {
            if state.patch(module) != nil {
                refuse(.unload(module), errno: "Resource temporarily unavailable", rule: .enabledPatchHoldsModule,
                       branch: state.transition?.patch == module ? "in transition" : "enabled")
                return
            }
            state.loaded.remove(module)
            if module == .demo {
                state.prePatchFails = false
                state.prePatchFailObject = nil
            }
        }

        // MARK: Target modules

        /// insmod of a target: klp_module_coming(), then the module's init.
        mutating func load(_ module: TestModule, blocking: Bool, holdingPatch: Bool = false) {
            let action: ExploreAction = module != .busyTarget ? .loadTarget
                : holdingPatch ? .loadBusyTargetHoldingPatch : .loadBusyTarget(blocking: blocking)
            for at in state.patches.indices {
                guard let objectIndex = state.patches[at].objects.firstIndex(where: { $0.module == module }) else { continue }
                let patch = state.patches[at]
                let object = patch.objects[objectIndex]
                if !(object.nop && model.mutation == .nopObjectsPrintNothing) {
                    say("livepatch: applying patch '\(patch.name)' to loading module '\(module.name)'")
                }
                if object.nop {
                    // klp_module_coming(): klp_pre_patch_callback() and
                    // klp_post_patch_callback() do nothing for an object
                    // without callbacks.
                    state.patches[at].objects[objectIndex].patched = true
                    took(.nopObjectsDuringReplace, "applying")
                    continue
                }
                callback("pre_patch_callback", patch, object, Self.coming)
                if patch.module == .demo && state.prePatchFails(for: object) {
                    say("livepatch: pre-patch callback failed for object '\(module.name)'")
                    say("livepatch: patch '\(patch.name)' failed for module '\(module.name)', refusing to load module '\(module.name)'")
                    // klp_cleanup_module_patches_limited(): the patches
                    // before this one that took the module let it go. It
                    // runs inside klp_module_coming(), before the loader
                    // sets MODULE_STATE_GOING (prepare_coming_module()
                    // returns the error first), so their callbacks see
                    // the module still COMING.
                    for earlier in 0..<at {
                        if unpatchGoing(module, patchIndex: earlier, moduleState: Self.coming) {
                            took(.prePatchFailureRefusesModule, "earlier patch lets go")
                        }
                    }
                    refuse(action, errno: "No such device", rule: .prePatchFailureRefusesModule, branch: module.name)
                    return
                }
                state.patches[at].objects[objectIndex].postUnpatchEnabled = true
                state.patches[at].objects[objectIndex].patched = true
                let inTransition = state.transition?.patch == patch.module
                if !inTransition || model.mutation == .postPatchForComingModuleDuringTransition {
                    callback("post_patch_callback", patch, object, Self.coming)
                }
                if inTransition {
                    took(.comingModuleDuringTransition, state.transition?.direction.word ?? "patching")
                } else {
                    took(.comingModulePatched, module.name)
                }
                if !inTransition && replaceInTransition { rules.insert(.replacedPatchDuringReplace) }
            }
            state.loaded.insert(module)
            switch module {
            case .target:
                say("\(module.name): livepatch_callbacks_mod_init")
            default:
                say("\(module.name): livepatch_callbacks_busymod_init")
                if let patch = state.patches.first(where: { $0.replacesBusyWork }) {
                    // The work item calls the replacement at once.
                    say("\(patch.name): patched_work_func")
                    took(.targetPatchedOnLoad, holdingPatch ? "held" : "returns")
                    state.busyWorkBlocking = false
                    state.patchedWorkBlocking = holdingPatch
                } else {
                    say("\(module.name): busymod_work_func enter")
                    if !blocking { say("\(module.name): busymod_work_func exit") }
                    state.busyWorkBlocking = blocking
                }
            }
        }

        /// rmmod of a target: its exit function, then klp_module_going().
        mutating func unload(_ module: TestModule) {
            switch module {
            case .target:
                say("\(module.name): livepatch_callbacks_mod_exit")
            default:
                // The exit clears both flags; the demo's replacement
                // leaves silently.
                if state.busyWorkBlocking { say("\(module.name): busymod_work_func exit") }
                say("\(module.name): livepatch_callbacks_busymod_exit")
            }
            for at in state.patches.indices { unpatchGoing(module, patchIndex: at) }
            state.loaded.remove(module)
            if module == .busyTarget {
                state.busyWorkBlocking = false
                state.patchedWorkBlocking = false
            }
        }

        /// One patch letting a going (or refused) module go.
        /// `moduleState`: GOING from klp_module_going(), COMING when
        /// klp_module_coming() refuses the module.
        /// Returns whether the patch had the module patched.
        @discardableResult
        mutating func unpatchGoing(_ module: TestModule, patchIndex at: Int, moduleState: String = Self.going) -> Bool {
            guard let objectIndex = state.patches[at].objects.firstIndex(where: { $0.module == module && $0.patched }) else { return false }
            let patch = state.patches[at]
            let object = patch.objects[objectIndex]
            let inTransition = state.transition?.patch == patch.module
            if !inTransition && !object.nop {
                callback("pre_unpatch_callback", patch, object, moduleState)
            }
            if !(object.nop && model.mutation == .nopObjectsPrintNothing) {
                say("livepatch: reverting patch '\(patch.name)' on unloading module '\(module.name)'")
            }
            if object.postUnpatchEnabled {
                callback("post_unpatch_callback", patch, object, moduleState)
            }
            state.patches[at].objects[objectIndex].patched = false
            state.patches[at].objects[objectIndex].postUnpatchEnabled = false
            if object.nop {
                took(.nopObjectsDuringReplace, "reverting")
            } else if inTransition {
                took(.goingModuleDuringTransition, state.transition?.direction.word ?? "patching")
            } else if moduleState == Self.going {
                took(.goingModuleUnpatched, module.name)
            }
            return true
        }
    }
}
