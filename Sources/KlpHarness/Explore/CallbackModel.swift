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
/// function; there is no third case with these modules.
public struct CallbackModel: Sendable {
    /// Test-only wrong rules: the explorer must catch each of them.
    public enum Mutation: String, CaseIterable, Codable, Sendable {
        /// Forgets that a module coming during a transition gets no
        /// post-patch callback until the transition completes.
        case postPatchForComingModuleDuringTransition = "post-patch-for-coming-module-during-transition"
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

        static func new(_ module: TestModule, replace: Bool) -> Patch {
            let targets: [TestModule?] = module == .demo ? [nil, .target, .busyTarget] : [nil]
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
        /// The stalled transition lost its busy task (rmmod of the busy
        /// module) and completes on the kernel's next retry: only
        /// `wait_for_transition` may come next.
        var released = false
        /// The demo's pre_patch_ret makes its pre-patch callbacks fail.
        var prePatchFails = false

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
        public var phase: Phase
    }

    // MARK: Validity

    /// Whether `action` makes sense in `state`: the explorer generates only
    /// these, and a shrunk sequence must keep to them. An action the kernel
    /// refuses (EBUSY, EINVAL, a module in use) is valid: the refusal is a
    /// rule. Loading a loaded module, unloading an absent one or writing a
    /// knob that is not there is not: it says nothing about callbacks.
    public func allows(_ action: ExploreAction, in state: State) -> Bool {
        if state.released {
            return action == .waitForTransition(state.transition?.patch ?? .demo)
        }
        switch action {
        case .loadTarget, .loadBusyTarget, .loadDemo, .loadDemo2:
            return action.loadedModule.map { !state.loaded.contains($0) } ?? false
        case .unload(let module):
            return state.loaded.contains(module)
        case .disable(let patch), .enable(let patch):
            return state.patch(patch) != nil
        case .setPrePatchRet(let fails):
            return state.loaded.contains(.demo) && fails != state.prePatchFails
        case .waitForTransition:
            return false
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
        case .loadDemo(let fails):
            stalls = run.loadLivepatch(.demo, replace: false, prePatchFails: fails)
        case .loadDemo2(let replace):
            stalls = run.loadLivepatch(.demo2, replace: replace, prePatchFails: false)
        case .unload(let module):
            module.isLivepatch ? run.unloadLivepatch(module) : run.unload(module)
        case .disable(let patch):
            run.disable(patch)
        case .enable:
            // enabled_store(): the patch is enabled (or patching): EINVAL.
            run.refuse(action, errno: "Invalid argument", rule: .noSecondEnable)
        case .setPrePatchRet(let fails):
            run.state.prePatchFails = fails
        case .waitForTransition(let patch):
            run.complete(patch)
            run.rules.insert(.stalledTransitionCompletes)
        }
        state = run.state
        return Step(command: action.command(stalls: stalls), lines: run.lines, rules: run.rules, phase: phase)
    }

    /// The actions that bring `state` back to a clean kernel: wait for a
    /// released transition, reverse a stalled one, disable every patch
    /// (newest first), then unload the livepatches and the targets.
    public func teardown(from state: State) -> [ExploreAction] {
        var state = state
        var actions: [ExploreAction] = []
        func take(_ action: ExploreAction) {
            guard apply(action, to: &state) != nil else { return }
            actions.append(action)
        }
        if state.released, let patch = state.transition?.patch { take(.waitForTransition(patch)) }
        if let patch = state.transition?.patch { take(.disable(patch)) }
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

        mutating func say(_ line: String) { lines.append(line) }

        /// The runner's line for a refused action: the engine's own format,
        /// for the action the scenario line parses to.
        mutating func refuse(_ action: ExploreAction, errno: String, rule: ModelRule) {
            if let parsed = try? ScenarioParser.parseAction(action.command(), path: "model", line: 0) {
                say(parsed.errorLine(errno, sysfs: Sysfs()))
            }
            rules.insert(rule)
        }

        /// What the demo's callbacks print (lib: callback_info()); the
        /// second patch has a vmlinux object only.
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

        func index(of patch: TestModule) -> Int? { state.patches.firstIndex { $0.module == patch } }

        // MARK: Livepatches

        /// insmod of a livepatch: klp_enable_patch(). Returns whether its
        /// transition stalls (the load is then written with `&`).
        mutating func loadLivepatch(_ module: TestModule, replace: Bool, prePatchFails: Bool) -> Bool {
            let action: ExploreAction = module == .demo ? .loadDemo(prePatchFails: prePatchFails) : .loadDemo2(replace: replace)
            if state.transition != nil {
                // __klp_enable_patch(): "if (klp_transition_patch) return
                // -EBUSY", before anything is printed.
                refuse(action, errno: "Device or resource busy", rule: .oneTransitionAtATime)
                return false
            }
            var patch = Patch.new(module, replace: replace)
            if !state.patches.isEmpty { rules.insert(.independentPatches) }
            say("livepatch: enabling patch '\(patch.name)'")
            say("livepatch: '\(patch.name)': initializing patching transition")
            if module == .demo { state.prePatchFails = prePatchFails }
            for index in patch.objects.indices {
                let object = patch.objects[index]
                guard state.isLoaded(object) else {
                    rules.insert(.absentTargetHasNoCallbacks)
                    continue
                }
                callback("pre_patch_callback", patch, object, Self.live)
                rules.insert(.prePatchForLoadedObjects)
                if state.prePatchFails && module == .demo {
                    // No post-unpatch for the object that failed; the
                    // transition is cancelled and the module refused.
                    say("livepatch: pre-patch callback failed for object '\(object.label)'")
                    say("livepatch: failed to enable patch '\(patch.name)'")
                    say("livepatch: '\(patch.name)': canceling patching transition, going to unpatch")
                    say("livepatch: '\(patch.name)': completing unpatching transition")
                    for earlier in patch.objects[..<index] where earlier.postUnpatchEnabled && state.isLoaded(earlier) {
                        callback("post_unpatch_callback", patch, earlier, Self.live)
                    }
                    say("livepatch: '\(patch.name)': unpatching complete")
                    refuse(action, errno: "No such device", rule: .prePatchFailureRefusesLivepatch)
                    state.prePatchFails = false
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
            for objectIndex in state.patches[current].objects.indices {
                let object = state.patches[current].objects[objectIndex]
                guard state.isLoaded(object) else { continue }
                if direction == .patching {
                    callback("post_patch_callback", patch, object, Self.live)
                    rules.insert(.postPatchAfterTransition)
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
            state.released = false
            if direction == .unpatching {
                // klp_free_patch_async(): the patch leaves sysfs and drops
                // its module reference; the module stays until rmmod.
                state.patches.remove(at: current)
            }
        }

        /// echo 0 > enabled: enabled_store().
        mutating func disable(_ module: TestModule) {
            let name = module.name
            if let transition = state.transition, transition.patch == module {
                // klp_reverse_transition(): no pre-unpatch callbacks.
                say("livepatch: '\(name)': reversing transition from patching to unpatching")
                say("livepatch: '\(name)': starting unpatching transition")
                state.transition = Transition(patch: module, direction: .unpatching)
                rules.insert(.reversedTransition)
                complete(module)
                return
            }
            if state.transition != nil {
                refuse(.disable(module), errno: "Device or resource busy", rule: .oneTransitionAtATime)
                return
            }
            guard let at = index(of: module) else { return }
            if state.patches.count > 1 { rules.insert(.independentPatches) }
            say("livepatch: '\(name)': initializing unpatching transition")
            for object in state.patches[at].objects {
                if object.patched && state.isLoaded(object) {
                    callback("pre_unpatch_callback", state.patches[at], object, Self.live)
                } else if !state.isLoaded(object) {
                    rules.insert(.absentTargetHasNoCallbacks)
                }
            }
            say("livepatch: '\(name)': starting unpatching transition")
            rules.insert(.unpatchCallbacksOnDisable)
            state.transition = Transition(patch: module, direction: .unpatching)
            complete(module)
        }

        /// rmmod of a livepatch: refused while its patch holds the module.
        mutating func unloadLivepatch(_ module: TestModule) {
            if state.patch(module) != nil {
                refuse(.unload(module), errno: "Resource temporarily unavailable", rule: .enabledPatchHoldsModule)
                return
            }
            state.loaded.remove(module)
            if module == .demo { state.prePatchFails = false }
        }

        // MARK: Target modules

        /// insmod of a target: klp_module_coming(), then the module's init.
        mutating func load(_ module: TestModule, blocking: Bool) {
            let action: ExploreAction = module == .busyTarget ? .loadBusyTarget(blocking: blocking) : .loadTarget
            for at in state.patches.indices {
                guard let objectIndex = state.patches[at].objects.firstIndex(where: { $0.module == module }) else { continue }
                let patch = state.patches[at]
                let object = patch.objects[objectIndex]
                say("livepatch: applying patch '\(patch.name)' to loading module '\(module.name)'")
                callback("pre_patch_callback", patch, object, Self.coming)
                if state.prePatchFails && patch.module == .demo {
                    say("livepatch: pre-patch callback failed for object '\(module.name)'")
                    say("livepatch: patch '\(patch.name)' failed for module '\(module.name)', refusing to load module '\(module.name)'")
                    // klp_cleanup_module_patches_limited(): the patches
                    // before this one that took the module let it go.
                    for earlier in 0..<at {
                        unpatchGoing(module, patchIndex: earlier)
                    }
                    refuse(action, errno: "No such device", rule: .prePatchFailureRefusesModule)
                    return
                }
                state.patches[at].objects[objectIndex].postUnpatchEnabled = true
                state.patches[at].objects[objectIndex].patched = true
                let inTransition = state.transition?.patch == patch.module
                if !inTransition || model.mutation == .postPatchForComingModuleDuringTransition {
                    callback("post_patch_callback", patch, object, Self.coming)
                }
                rules.insert(inTransition ? .comingModuleDuringTransition : .comingModulePatched)
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
                    rules.insert(.targetPatchedOnLoad)
                    state.busyWorkBlocking = false
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
                if state.busyWorkBlocking { say("\(module.name): busymod_work_func exit") }
                say("\(module.name): livepatch_callbacks_busymod_exit")
            }
            for at in state.patches.indices { unpatchGoing(module, patchIndex: at) }
            state.loaded.remove(module)
            if module == .busyTarget {
                if state.busyWorkBlocking, let transition = state.transition, transition.direction == .patching,
                   state.patch(transition.patch)?.replacesBusyWork == true {
                    state.released = true
                }
                state.busyWorkBlocking = false
            }
        }

        /// One patch letting a going (or refused) module go.
        mutating func unpatchGoing(_ module: TestModule, patchIndex at: Int) {
            guard let objectIndex = state.patches[at].objects.firstIndex(where: { $0.module == module && $0.patched }) else { return }
            let patch = state.patches[at]
            let object = patch.objects[objectIndex]
            let inTransition = state.transition?.patch == patch.module
            if !inTransition {
                callback("pre_unpatch_callback", patch, object, Self.going)
            }
            say("livepatch: reverting patch '\(patch.name)' on unloading module '\(module.name)'")
            if object.postUnpatchEnabled {
                callback("post_unpatch_callback", patch, object, Self.going)
            }
            state.patches[at].objects[objectIndex].patched = false
            state.patches[at].objects[objectIndex].postUnpatchEnabled = false
            rules.insert(inTransition ? .goingModuleDuringTransition : .goingModuleUnpatched)
        }
    }
}
