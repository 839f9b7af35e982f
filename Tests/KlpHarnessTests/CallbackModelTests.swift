import Testing
@testable import KlpHarness

@Suite("The callback model")
struct CallbackModelTests {
    /// The shipped callbacks scenarios are the model's specification: it must
    /// predict each of their transcripts line for line, with no VM.
    @Test("reproduces every shipped callbacks scenario", arguments: try Repository.callbackScenarioFiles().map(\.lastPathComponent))
    func reproducesShippedScenario(_ file: String) throws {
        let scenario = try Repository.scenario(file)
        let actions = scenario.steps.compactMap { ExploreAction($0.action) }
        #expect(actions.count == scenario.steps.count, "every step is in the model's alphabet")
        let predicted = try #require(CallbackModel().transcript(of: actions))
        #expect(predicted == scenario.transcript)
        if predicted != scenario.transcript {
            print(UnifiedDiff(expected: scenario.transcript, actual: predicted).render().joined(separator: "\n"))
        }
    }

    @Test("ends every shipped callbacks scenario on a clean kernel")
    func shippedScenariosEndClean() throws {
        let model = CallbackModel()
        for url in try Repository.callbackScenarioFiles() {
            let scenario = try Repository.scenario(url.lastPathComponent)
            var state = CallbackModel.State()
            for action in scenario.steps.compactMap({ ExploreAction($0.action) }) {
                _ = model.apply(action, to: &state)
            }
            #expect(state.isClean, "\(url.lastPathComponent)")
            #expect(model.teardown(from: state).isEmpty)
        }
    }
}

@Suite("The callback model's test-only mutation")
struct CallbackModelMutationTests {
    /// The reproduction test can fail: the wrong rule changes the busy
    /// target module scenario, where a module comes mid-transition.
    @Test func wrongRuleMissesTheBusyScenario() throws {
        let scenario = try Repository.scenario("09-busy-target-module.scenario")
        let actions = scenario.steps.compactMap { ExploreAction($0.action) }
        let predicted = CallbackModel(mutation: .postPatchForComingModuleDuringTransition).transcript(of: actions)
        #expect(predicted != scenario.transcript)
        #expect(predicted?.contains("livepatch_callbacks_demo: post_patch_callback: livepatch_callbacks_mod -> [MODULE_STATE_COMING] Full formed, running module_init") == true)
    }
}

@Suite("The nop-object mutation")
struct CallbackModelNopMutationTests {
    /// The wrong rule changes only a transcript with a target coming or
    /// going mid-replace: the shipped scenarios stay as they are.
    @Test func changesOnlyTheStalledReplace() throws {
        let mutant = CallbackModel(mutation: .nopObjectsPrintNothing)
        for url in try Repository.callbackScenarioFiles() {
            let scenario = try Repository.scenario(url.lastPathComponent)
            #expect(mutant.transcript(of: scenario.steps.compactMap { ExploreAction($0.action) }) == scenario.transcript)
        }
        let actions: [ExploreAction] = [.loadDemo(prePatchFails: false), .loadBusyTargetHoldingPatch, .loadDemo2(replace: true), .loadTarget]
        let predicted = try #require(mutant.transcript(of: actions))
        #expect(predicted != CallbackModel().transcript(of: actions))
        #expect(!predicted.contains("livepatch: applying patch 'livepatch_callbacks_demo2' to loading module 'livepatch_callbacks_mod'"))
    }
}

@Suite("Stalls end without a race")
struct CallbackModelStallTests {
    /// A stall on busymod's work, as scenario 09 makes it.
    static let stalled: [ExploreAction] = [.loadBusyTarget(blocking: true), .loadDemo(prePatchFails: false)]

    /// rmmod of the busy module during the stall raced the kernel's 1 s
    /// retry (its exit lets the work return before klp_module_going()
    /// takes klp_mutex); waiting for a released transition raced the
    /// runner's next marker. Neither is allowed any more.
    @Test func racyStepsAreNotAllowed() throws {
        let model = CallbackModel()
        var state = CallbackModel.State()
        for action in Self.stalled { _ = try #require(model.apply(action, to: &state)) }
        #expect(state.phase == .stalled)
        #expect(!model.allows(.unload(.busyTarget), in: state))
        #expect(!model.allows(.waitForTransition(.demo), in: state))
        // The deterministic ends stay: reversal, and rmmod of the busy
        // module once the patch is gone.
        #expect(model.allows(.disable(.demo), in: state))
        #expect(model.transcript(of: Self.stalled + [.disable(.demo), .unload(.demo), .unload(.busyTarget)]) != nil)
    }

    /// No generated sequence, of several seeds, takes a racy step.
    @Test(arguments: [1, 2, 3, 42] as [UInt64])
    func generatorNeverTakesTheRacyStep(seed: UInt64) throws {
        let model = CallbackModel()
        var generator = SequenceGenerator(seed: seed, model: model)
        var stalls = 0
        for number in 1...200 {
            let sequence = try #require(ExploreSequence(number: number, body: generator.next(), model: model))
            var state = CallbackModel.State()
            for action in sequence.actions {
                if state.transition != nil {
                    stalls += 1
                    #expect(action != .unload(.busyTarget), "sequence \(number)")
                    #expect(action != .releasePatchedWork, "sequence \(number)")
                }
                if case .waitForTransition = action { Issue.record("sequence \(number) waits for a transition") }
                _ = model.apply(action, to: &state)
            }
        }
        #expect(stalls > 0, "the seed reaches stalls at all")
    }
}

@Suite("Atomic replace that stalls")
struct CallbackModelReplaceStallTests {
    static let coming = "[MODULE_STATE_COMING] Full formed, running module_init"
    static let going = "[MODULE_STATE_GOING] Going away"
    static let live = "[MODULE_STATE_LIVE] Normal state"

    /// Written from kernel/livepatch/core.c and transition.c, not from the
    /// model: klp_add_nops() gives demo2 nop objects for the demo's module
    /// objects; klp_check_stack_func() finds the work in the demo's
    /// replacement, so the replace stalls; klp_module_coming() applies the
    /// demo (not the transition patch: pre- and post-patch) and then
    /// demo2's nop object (no callbacks); klp_module_going() reverts both;
    /// klp_reverse_transition() ends the stall and the demo stays.
    @Test func predictsTheStalledReplace() {
        let actions: [ExploreAction] = [
            .loadDemo(prePatchFails: false), .loadBusyTargetHoldingPatch, .loadDemo2(replace: true),
            .loadTarget, .unload(.target), .disable(.demo2), .releasePatchedWork, .disable(.demo),
            .unload(.demo2), .unload(.demo), .unload(.busyTarget),
        ]
        let expected = [
            "% insmod livepatch-callbacks-demo.ko",
            "livepatch: enabling patch 'livepatch_callbacks_demo'",
            "livepatch: 'livepatch_callbacks_demo': initializing patching transition",
            "livepatch_callbacks_demo: pre_patch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo': starting patching transition",
            "livepatch: 'livepatch_callbacks_demo': completing patching transition",
            "livepatch_callbacks_demo: post_patch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo': patching complete",
            "% insmod livepatch-callbacks-busymod.ko block_patched=Y",
            "livepatch: applying patch 'livepatch_callbacks_demo' to loading module 'livepatch_callbacks_busymod'",
            "livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_busymod -> \(Self.coming)",
            "livepatch_callbacks_demo: post_patch_callback: livepatch_callbacks_busymod -> \(Self.coming)",
            "livepatch_callbacks_busymod: livepatch_callbacks_busymod_init",
            "livepatch_callbacks_demo: patched_work_func",
            "% insmod livepatch-callbacks-demo2.ko replace=1 &",
            "livepatch: enabling patch 'livepatch_callbacks_demo2'",
            "livepatch: 'livepatch_callbacks_demo2': initializing patching transition",
            "livepatch_callbacks_demo2: pre_patch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo2': starting patching transition",
            "% insmod livepatch-callbacks-mod.ko",
            "livepatch: applying patch 'livepatch_callbacks_demo' to loading module 'livepatch_callbacks_mod'",
            "livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_mod -> \(Self.coming)",
            "livepatch_callbacks_demo: post_patch_callback: livepatch_callbacks_mod -> \(Self.coming)",
            "livepatch: applying patch 'livepatch_callbacks_demo2' to loading module 'livepatch_callbacks_mod'",
            "livepatch_callbacks_mod: livepatch_callbacks_mod_init",
            "% rmmod livepatch_callbacks_mod",
            "livepatch_callbacks_mod: livepatch_callbacks_mod_exit",
            "livepatch_callbacks_demo: pre_unpatch_callback: livepatch_callbacks_mod -> \(Self.going)",
            "livepatch: reverting patch 'livepatch_callbacks_demo' on unloading module 'livepatch_callbacks_mod'",
            "livepatch_callbacks_demo: post_unpatch_callback: livepatch_callbacks_mod -> \(Self.going)",
            "livepatch: reverting patch 'livepatch_callbacks_demo2' on unloading module 'livepatch_callbacks_mod'",
            "% echo 0 > /sys/kernel/livepatch/livepatch_callbacks_demo2/enabled",
            "livepatch: 'livepatch_callbacks_demo2': reversing transition from patching to unpatching",
            "livepatch: 'livepatch_callbacks_demo2': starting unpatching transition",
            "livepatch: 'livepatch_callbacks_demo2': completing unpatching transition",
            "livepatch_callbacks_demo2: post_unpatch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo2': unpatching complete",
            "% echo N > /sys/module/livepatch_callbacks_busymod/parameters/block_patched",
            "% echo 0 > /sys/kernel/livepatch/livepatch_callbacks_demo/enabled",
            "livepatch: 'livepatch_callbacks_demo': initializing unpatching transition",
            "livepatch_callbacks_demo: pre_unpatch_callback: vmlinux",
            "livepatch_callbacks_demo: pre_unpatch_callback: livepatch_callbacks_busymod -> \(Self.live)",
            "livepatch: 'livepatch_callbacks_demo': starting unpatching transition",
            "livepatch: 'livepatch_callbacks_demo': completing unpatching transition",
            "livepatch_callbacks_demo: post_unpatch_callback: vmlinux",
            "livepatch_callbacks_demo: post_unpatch_callback: livepatch_callbacks_busymod -> \(Self.live)",
            "livepatch: 'livepatch_callbacks_demo': unpatching complete",
            "% rmmod livepatch_callbacks_demo2",
            "% rmmod livepatch_callbacks_demo",
            "% rmmod livepatch_callbacks_busymod",
            "livepatch_callbacks_busymod: livepatch_callbacks_busymod_exit",
        ]
        expectTranscript(of: actions, is: expected)
    }

    /// The step applies each new rule; with the work held and no
    /// transition, the teardown releases the work before disabling (the
    /// disable would stall otherwise).
    @Test func appliesTheNewRules() throws {
        let model = CallbackModel()
        var state = CallbackModel.State()
        var rules: Set<ModelRule> = []
        for action: ExploreAction in [.loadDemo(prePatchFails: false), .loadBusyTargetHoldingPatch] {
            rules.formUnion(try #require(model.apply(action, to: &state)).rules)
        }
        #expect(model.teardown(from: state).first == .releasePatchedWork)
        for action: ExploreAction in [.loadDemo2(replace: true), .loadTarget, .unload(.target), .disable(.demo2)] {
            rules.formUnion(try #require(model.apply(action, to: &state)).rules)
        }
        #expect(rules.isSuperset(of: [.stalledReplace, .nopObjectsDuringReplace, .replacedPatchDuringReplace, .reversedReplace]))
        #expect(!rules.contains(.reversedTransition))
    }

    /// Without the held work the same replace does not stall, and its nop
    /// objects are gone before anything can load: the shipped atomic
    /// replace transcript is unchanged.
    @Test func unheldReplaceDoesNotStall() throws {
        let model = CallbackModel()
        var state = CallbackModel.State()
        for action: ExploreAction in [.loadDemo(prePatchFails: false), .loadBusyTarget(blocking: false), .loadDemo2(replace: true)] {
            _ = try #require(model.apply(action, to: &state))
        }
        #expect(state.transition == nil)
        #expect(state.patches.map(\.module) == [.demo2])
        #expect(state.patches[0].objects.allSatisfy { !$0.nop })
    }
}

@Suite("A module refused on load")
struct CallbackModelRefusedModuleTests {
    /// klp_module_coming() fails and calls
    /// klp_cleanup_module_patches_limited() itself, before the loader sets
    /// MODULE_STATE_GOING: the earlier patches' unpatch callbacks see the
    /// module COMING. The state is built by hand here;
    /// `reachesTheEarlierPatchThroughDemo2` reaches it by actions.
    @Test func earlierPatchesSeeTheModuleComing() throws {
        var earlier = CallbackModel.Patch.new(.demo2, replace: false)
        earlier.objects.append(CallbackModel.Object(module: .target))
        var state = CallbackModel.State()
        state.loaded = [.demo2, .demo]
        state.patches = [earlier, .new(.demo, replace: false)]
        state.prePatchFails = true
        let step = try #require(CallbackModel().apply(.loadTarget, to: &state))
        let coming = "[MODULE_STATE_COMING] Full formed, running module_init"
        #expect(step.lines.contains("livepatch_callbacks_demo2: pre_unpatch_callback: livepatch_callbacks_mod -> \(coming)"))
        #expect(step.lines.contains("livepatch_callbacks_demo2: post_unpatch_callback: livepatch_callbacks_mod -> \(coming)"))
        #expect(!step.lines.contains { $0.contains("MODULE_STATE_GOING") })
        #expect(step.rules.contains(.prePatchFailureRefusesModule))
    }

    static let coming = "[MODULE_STATE_COMING] Full formed, running module_init"

    /// The actions of `reachesTheEarlierPatchThroughDemo2`: demo2 with its
    /// livepatch_callbacks_mod object first on klp_patches, the demo
    /// failing for that module while it is absent, the module's load, then
    /// the teardown.
    static let refusedWithEarlierPatch: [ExploreAction] = [
        .loadDemo2WithModObject, .loadDemoFailingOnly(.target), .loadTarget,
        .disable(.demo), .disable(.demo2), .unload(.demo2), .unload(.demo),
    ]

    /// Written from kernel/livepatch/core.c, not from the model or a run.
    /// klp_module_coming() walks klp_patches in load order: demo2 (not the
    /// transition patch) gets "applying patch", pre- and post-patch; the
    /// demo gets "applying patch" and its failing pre-patch, then "patch
    /// ... failed for module", and klp_cleanup_module_patches_limited(mod,
    /// demo) lets demo2 go: pre-unpatch (demo2 is not
    /// klp_transition_patch), "reverting patch", post-unpatch
    /// (post_unpatch_enabled was set by its pre-patch), with the module
    /// still COMING: prepare_coming_module() fails before load_module()
    /// sets MODULE_STATE_GOING (kernel/module/main.c). The loader returns
    /// ENODEV; the demo's own object gets no unpatch callback.
    @Test func reachesTheEarlierPatchThroughDemo2() throws {
        let coming = Self.coming
        let expected = [
            "% insmod livepatch-callbacks-demo2.ko mod_object=Y",
            "livepatch: enabling patch 'livepatch_callbacks_demo2'",
            "livepatch: 'livepatch_callbacks_demo2': initializing patching transition",
            "livepatch_callbacks_demo2: pre_patch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo2': starting patching transition",
            "livepatch: 'livepatch_callbacks_demo2': completing patching transition",
            "livepatch_callbacks_demo2: post_patch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo2': patching complete",
            "% insmod livepatch-callbacks-demo.ko pre_patch_ret=-19 pre_patch_fail_object=livepatch_callbacks_mod",
            "livepatch: enabling patch 'livepatch_callbacks_demo'",
            "livepatch: 'livepatch_callbacks_demo': initializing patching transition",
            "livepatch_callbacks_demo: pre_patch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo': starting patching transition",
            "livepatch: 'livepatch_callbacks_demo': completing patching transition",
            "livepatch_callbacks_demo: post_patch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo': patching complete",
            "% insmod livepatch-callbacks-mod.ko",
            "livepatch: applying patch 'livepatch_callbacks_demo2' to loading module 'livepatch_callbacks_mod'",
            "livepatch_callbacks_demo2: pre_patch_callback: livepatch_callbacks_mod -> \(coming)",
            "livepatch_callbacks_demo2: post_patch_callback: livepatch_callbacks_mod -> \(coming)",
            "livepatch: applying patch 'livepatch_callbacks_demo' to loading module 'livepatch_callbacks_mod'",
            "livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_mod -> \(coming)",
            "livepatch: pre-patch callback failed for object 'livepatch_callbacks_mod'",
            "livepatch: patch 'livepatch_callbacks_demo' failed for module 'livepatch_callbacks_mod', refusing to load module 'livepatch_callbacks_mod'",
            "livepatch_callbacks_demo2: pre_unpatch_callback: livepatch_callbacks_mod -> \(coming)",
            "livepatch: reverting patch 'livepatch_callbacks_demo2' on unloading module 'livepatch_callbacks_mod'",
            "livepatch_callbacks_demo2: post_unpatch_callback: livepatch_callbacks_mod -> \(coming)",
            "insmod: ERROR: could not insert module livepatch-callbacks-mod.ko: No such device",
            "% echo 0 > /sys/kernel/livepatch/livepatch_callbacks_demo/enabled",
            "livepatch: 'livepatch_callbacks_demo': initializing unpatching transition",
            "livepatch_callbacks_demo: pre_unpatch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo': starting unpatching transition",
            "livepatch: 'livepatch_callbacks_demo': completing unpatching transition",
            "livepatch_callbacks_demo: post_unpatch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo': unpatching complete",
            "% echo 0 > /sys/kernel/livepatch/livepatch_callbacks_demo2/enabled",
            "livepatch: 'livepatch_callbacks_demo2': initializing unpatching transition",
            "livepatch_callbacks_demo2: pre_unpatch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo2': starting unpatching transition",
            "livepatch: 'livepatch_callbacks_demo2': completing unpatching transition",
            "livepatch_callbacks_demo2: post_unpatch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo2': unpatching complete",
            "% rmmod livepatch_callbacks_demo2",
            "% rmmod livepatch_callbacks_demo",
        ]
        let model = CallbackModel()
        expectTranscript(of: Self.refusedWithEarlierPatch, model: model, is: expected)
        var state = CallbackModel.State()
        var branches: Set<String> = []
        for action in Self.refusedWithEarlierPatch.prefix(3) {
            branches.formUnion(try #require(model.apply(action, to: &state)).branches)
        }
        #expect(branches.contains(ModelRule.prePatchFailureRefusesModule.branchName("earlier patch lets go")))
        #expect(Array(Self.refusedWithEarlierPatch.dropFirst(3)) == model.teardown(from: state))
    }

    /// With the target loaded, demo2's module object gets every callback
    /// with demo2's prefix and the module's state, like the demo's.
    @Test func demo2ModObjectTakesTheLoadedTarget() throws {
        let live = "[MODULE_STATE_LIVE] Normal state"
        let going = "[MODULE_STATE_GOING] Going away"
        let predicted = try #require(CallbackModel().transcript(of: [.loadTarget, .loadDemo2WithModObject, .unload(.target), .disable(.demo2)]))
        #expect(predicted.contains("livepatch_callbacks_demo2: pre_patch_callback: livepatch_callbacks_mod -> \(live)"))
        #expect(predicted.contains("livepatch_callbacks_demo2: post_patch_callback: livepatch_callbacks_mod -> \(live)"))
        #expect(predicted.contains("livepatch_callbacks_demo2: pre_unpatch_callback: livepatch_callbacks_mod -> \(going)"))
        #expect(predicted.contains("livepatch: reverting patch 'livepatch_callbacks_demo2' on unloading module 'livepatch_callbacks_mod'"))
        #expect(!CallbackModel().transcript(of: [.loadTarget, .loadDemo2(replace: false)])!.contains { $0.contains("demo2: pre_patch_callback: livepatch_callbacks_mod") })
    }

    /// The scenario line parses back to the action; replace=1 is another action.
    @Test func demo2ModObjectParsesBack() throws {
        let command = ExploreAction.loadDemo2WithModObject.command()
        #expect(command == "insmod livepatch-callbacks-demo2.ko mod_object=Y")
        #expect(ExploreAction(try ScenarioParser.parseAction(command, path: "t", line: 1)) == .loadDemo2WithModObject)
        let both = "insmod livepatch-callbacks-demo2.ko mod_object=Y replace=1"
        #expect(ExploreAction(try ScenarioParser.parseAction(both, path: "t", line: 1)) == nil)
    }
}

@Suite("A pre-patch callback that fails for one object")
struct CallbackModelPartialFailureTests {
    /// Written from kernel/livepatch/core.c and transition.c: the demo's
    /// objects are vmlinux, then the target module. vmlinux's pre-patch
    /// succeeds (klp_pre_patch_callback() sets post_unpatch_enabled), the
    /// module's fails; klp_cancel_transition() completes an unpatching
    /// transition, so only vmlinux gets post-unpatch; init fails: ENODEV.
    @Test func postUnpatchForTheObjectsBefore() {
        let expected = [
            "% insmod livepatch-callbacks-mod.ko",
            "livepatch_callbacks_mod: livepatch_callbacks_mod_init",
            "% insmod livepatch-callbacks-demo.ko pre_patch_ret=-19 pre_patch_fail_object=livepatch_callbacks_mod",
            "livepatch: enabling patch 'livepatch_callbacks_demo'",
            "livepatch: 'livepatch_callbacks_demo': initializing patching transition",
            "livepatch_callbacks_demo: pre_patch_callback: vmlinux",
            "livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_mod -> [MODULE_STATE_LIVE] Normal state",
            "livepatch: pre-patch callback failed for object 'livepatch_callbacks_mod'",
            "livepatch: failed to enable patch 'livepatch_callbacks_demo'",
            "livepatch: 'livepatch_callbacks_demo': canceling patching transition, going to unpatch",
            "livepatch: 'livepatch_callbacks_demo': completing unpatching transition",
            "livepatch_callbacks_demo: post_unpatch_callback: vmlinux",
            "livepatch: 'livepatch_callbacks_demo': unpatching complete",
            "insmod: ERROR: could not insert module livepatch-callbacks-demo.ko: No such device",
            "% rmmod livepatch_callbacks_mod",
            "livepatch_callbacks_mod: livepatch_callbacks_mod_exit",
        ]
        let actions: [ExploreAction] = [.loadTarget, .loadDemoFailingOnly(.target), .unload(.target)]
        #expect(CallbackModel().transcript(of: actions) == expected)
        var state = CallbackModel.State()
        var rules: Set<ModelRule> = []
        for action in actions { rules.formUnion(CallbackModel().apply(action, to: &state)?.rules ?? []) }
        #expect(rules.contains(.prePatchFailureUnpatchesEarlierObjects))
    }

    /// With the failing object absent the patch loads; that module is then
    /// refused, and the other target loads.
    @Test func onlyTheNamedModuleIsRefused() throws {
        let model = CallbackModel()
        var state = CallbackModel.State()
        _ = try #require(model.apply(.loadDemoFailingOnly(.busyTarget), to: &state))
        #expect(state.patch(.demo) != nil)
        let refused = try #require(model.apply(.loadBusyTarget(blocking: false), to: &state))
        #expect(refused.rules.contains(.prePatchFailureRefusesModule))
        let loaded = try #require(model.apply(.loadTarget, to: &state))
        #expect(loaded.rules.contains(.comingModulePatched))
        #expect(state.loaded == [.demo, .target])
    }

    /// The scenario line parses back to the action.
    @Test func parsesBack() throws {
        let command = ExploreAction.loadDemoFailingOnly(.target).command()
        #expect(ExploreAction(try ScenarioParser.parseAction(command, path: "t", line: 1)) == .loadDemoFailingOnly(.target))
    }
}

@Suite("An unpatching transition that stalls")
struct CallbackModelUnpatchStallTests {
    static let coming = "[MODULE_STATE_COMING] Full formed, running module_init"
    static let going = "[MODULE_STATE_GOING] Going away"
    static let live = "[MODULE_STATE_LIVE] Normal state"

    static let actions: [ExploreAction] = [
        .loadDemo(prePatchFails: false), .loadBusyTargetHoldingPatch, .disable(.demo),
        .loadTarget, .disable(.demo), .unload(.target), .loadTarget, .enable(.demo),
    ]

    /// Written from kernel/livepatch/core.c and transition.c, not from the
    /// model: __klp_disable_patch() runs pre-unpatch for the patched
    /// objects and starts the transition, which klp_check_stack_func()
    /// stalls (the work is in func->new_func); klp_module_coming() applies
    /// the unpatching patch to a loading module with pre-patch only (it is
    /// klp_transition_patch); enabled_store() refuses a second `echo 0`
    /// (patch->enabled is already false); klp_module_going() gives no
    /// pre-unpatch to the transition patch; `echo 1` reverses to patching,
    /// which completes with post-patch for every loaded object.
    @Test func predictsTheStalledUnpatchAndItsReversal() throws {
        let demo = "livepatch_callbacks_demo", mod = "livepatch_callbacks_mod", busy = "livepatch_callbacks_busymod"
        let loadTarget = [
            "% insmod livepatch-callbacks-mod.ko",
            "livepatch: applying patch '\(demo)' to loading module '\(mod)'",
            "\(demo): pre_patch_callback: \(mod) -> \(Self.coming)",
            "\(mod): livepatch_callbacks_mod_init",
        ]
        let expected = [
            "% insmod livepatch-callbacks-demo.ko",
            "livepatch: enabling patch '\(demo)'",
            "livepatch: '\(demo)': initializing patching transition",
            "\(demo): pre_patch_callback: vmlinux",
            "livepatch: '\(demo)': starting patching transition",
            "livepatch: '\(demo)': completing patching transition",
            "\(demo): post_patch_callback: vmlinux",
            "livepatch: '\(demo)': patching complete",
            "% insmod livepatch-callbacks-busymod.ko block_patched=Y",
            "livepatch: applying patch '\(demo)' to loading module '\(busy)'",
            "\(demo): pre_patch_callback: \(busy) -> \(Self.coming)",
            "\(demo): post_patch_callback: \(busy) -> \(Self.coming)",
            "\(busy): livepatch_callbacks_busymod_init",
            "\(demo): patched_work_func",
            "% echo 0 > /sys/kernel/livepatch/\(demo)/enabled &",
            "livepatch: '\(demo)': initializing unpatching transition",
            "\(demo): pre_unpatch_callback: vmlinux",
            "\(demo): pre_unpatch_callback: \(busy) -> \(Self.live)",
            "livepatch: '\(demo)': starting unpatching transition",
        ] + loadTarget + [
            "% echo 0 > /sys/kernel/livepatch/\(demo)/enabled",
            "echo: ERROR: could not write /sys/kernel/livepatch/\(demo)/enabled: Invalid argument",
            "% rmmod \(mod)",
            "\(mod): livepatch_callbacks_mod_exit",
            "livepatch: reverting patch '\(demo)' on unloading module '\(mod)'",
            "\(demo): post_unpatch_callback: \(mod) -> \(Self.going)",
        ] + loadTarget + [
            "% echo 1 > /sys/kernel/livepatch/\(demo)/enabled",
            "livepatch: '\(demo)': reversing transition from unpatching to patching",
            "livepatch: '\(demo)': starting patching transition",
            "livepatch: '\(demo)': completing patching transition",
            "\(demo): post_patch_callback: vmlinux",
            "\(demo): post_patch_callback: \(mod) -> \(Self.live)",
            "\(demo): post_patch_callback: \(busy) -> \(Self.live)",
            "livepatch: '\(demo)': patching complete",
        ]
        expectTranscript(of: Self.actions, is: expected)
    }

    /// Each new behaviour is a rule or a branch; the stall ends by reversal
    /// only, and the teardown gets out of it: `echo 1`, release the work,
    /// disable, unload.
    @Test func appliesItsRulesAndTearsDownByReversal() throws {
        let model = CallbackModel()
        var state = CallbackModel.State()
        var branches: Set<String> = []
        var rules: Set<ModelRule> = []
        for (index, action) in Self.actions.enumerated() {
            let step = try #require(model.apply(action, to: &state))
            rules.formUnion(step.rules)
            branches.formUnion(step.branches)
            if index == 2 {
                #expect(step.command.hasSuffix(" &"))
                #expect(state.phase == .stalled)
                #expect(!model.allows(.releasePatchedWork, in: state))
                #expect(!model.allows(.unload(.busyTarget), in: state))
                #expect(model.teardown(from: state).prefix(2) == [.enable(.demo), .releasePatchedWork])
            }
        }
        #expect(rules.isSuperset(of: [.stalledUnpatch, .reversedUnpatch]))
        #expect(branches.isSuperset(of: [
            ModelRule.noSecondEnable.branchName("unpatching"),
            ModelRule.comingModuleDuringTransition.branchName("unpatching"),
            ModelRule.goingModuleDuringTransition.branchName("unpatching"),
        ]))
        #expect(state.transition == nil && state.patch(.demo) != nil)
        let teardown = model.teardown(from: state)
        #expect(teardown == [.releasePatchedWork, .disable(.demo), .unload(.demo), .unload(.target), .unload(.busyTarget)])
        for action in teardown { _ = try #require(model.apply(action, to: &state)) }
        #expect(state.isClean)
    }

    /// A second livepatch during the stalled unpatch: its load is EBUSY
    /// (one transition at a time), its disable too, and the demo's module
    /// is held (an unpatching patch still holds its module reference).
    @Test func otherActionsDuringTheStall() throws {
        let model = CallbackModel()
        let actions: [ExploreAction] = [.loadDemo(prePatchFails: false), .loadBusyTargetHoldingPatch, .disable(.demo),
                                        .loadDemo2(replace: false), .unload(.demo)]
        let transcript = try #require(model.transcript(of: actions))
        #expect(transcript.contains("insmod: ERROR: could not insert module livepatch-callbacks-demo2.ko: Device or resource busy"))
        #expect(transcript.last == "rmmod: ERROR: could not remove module livepatch_callbacks_demo: Resource temporarily unavailable")
    }
}

/// The model's transcript of `actions` equals `expected`, the lines written
/// from kernel/livepatch/core.c; on a miss the unified diff is printed, so
/// the failing line is readable.
func expectTranscript(of actions: [ExploreAction], model: CallbackModel = CallbackModel(), is expected: [String],
                      sourceLocation: SourceLocation = #_sourceLocation) {
    let predicted = model.transcript(of: actions)
    #expect(predicted == expected, sourceLocation: sourceLocation)
    if let predicted, predicted != expected {
        print(UnifiedDiff(expected: expected, actual: predicted).render().joined(separator: "\n"))
    }
}
