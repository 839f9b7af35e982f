/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", 2014): small, fast, and the same numbers on every platform
/// and Swift version, which `SystemRandomNumberGenerator` is not. A seed
/// names a run for good.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random valid action sequences, reproducible from a seed. Each step picks
/// among the actions the model allows, weighted toward the places where the
/// rules differ: states with a stalled transition (patching, or unpatching
/// the demo while the work sits in its replacement), a blocking busy module
/// (in the original work function or the demo's replacement), a failing
/// pre-patch callback or an atomic-replace patch, and actions
/// that apply rules the run has applied least so far. The weights use only
/// the model's predictions, never the kernel's output, so sequence N of a
/// seed is the same on every kernel.
public struct SequenceGenerator: Sendable {
    public let model: CallbackModel
    private var random: SeededGenerator
    /// How often each rule has been applied by the sequences so far.
    private var applied: [ModelRule: Int] = [:]
    public let lengths: ClosedRange<Int>

    /// Every action the alphabet has; the model says which fit a state.
    static let alphabet: [ExploreAction] = [
        .loadTarget, .loadBusyTarget(blocking: true), .loadBusyTarget(blocking: false), .loadBusyTargetHoldingPatch,
        .loadDemo(prePatchFails: false), .loadDemo(prePatchFails: true),
        .loadDemoFailingOnly(.target), .loadDemoFailingOnly(.busyTarget),
        .loadDemo2(replace: false), .loadDemo2(replace: true), .loadDemo2WithModObject,
    ] + TestModule.allCases.map { .unload($0) }
        + [TestModule.demo, .demo2].flatMap { [ExploreAction.disable($0), .enable($0)] }
        + [.setPrePatchRet(fails: true), .setPrePatchRet(fails: false), .releasePatchedWork]

    public init(seed: UInt64, model: CallbackModel, lengths: ClosedRange<Int> = 2...9) {
        self.model = model
        self.random = SeededGenerator(seed: seed)
        self.lengths = lengths
    }

    /// The next sequence's actions, before its teardown.
    public mutating func next() -> [ExploreAction] {
        let length = Int.random(in: lengths, using: &random)
        var state = CallbackModel.State()
        var actions: [ExploreAction] = []
        while actions.count < length {
            var choices: [(ExploreAction, Double)] = []
            for action in Self.alphabet {
                var after = state
                guard let step = model.apply(action, to: &after) else { continue }
                choices.append((action, weight(of: step, leading: after, from: state, action: action,
                                               remaining: length - actions.count)))
            }
            guard let action = pick(choices) else { break }
            if let step = model.apply(action, to: &state) {
                for rule in step.rules { applied[rule, default: 0] += 1 }
            }
            actions.append(action)
        }
        var final = state
        for action in model.teardown(from: state) {
            if let step = model.apply(action, to: &final) {
                for rule in step.rules { applied[rule, default: 0] += 1 }
            }
        }
        return actions
    }

    /// - Parameter remaining: the actions left in the sequence, this one
    ///   included: a stall entered with none after it shows only its
    ///   reversal.
    func weight(of step: CallbackModel.Step, leading after: CallbackModel.State, from before: CallbackModel.State,
                action: ExploreAction, remaining: Int) -> Double {
        var weight = 1.0
        for rule in step.rules { weight += 4.0 / Double(1 + applied[rule, default: 0]) }
        if after.transition != nil { weight += 2 }
        if (after.busyWorkBlocking || after.patchedWorkBlocking) && after.transition == nil { weight += 1.5 }
        if after.prePatchFails && !before.prePatchFails { weight += 1 }
        if action == .loadDemo2(replace: true) && !before.patches.isEmpty { weight += 1.5 }
        // The stalled replace needs three steps in order: the demo, busymod
        // held in its replacement, then the replace.
        if action == .loadBusyTargetHoldingPatch && before.patch(.demo) != nil { weight += 16 }
        if action == .loadDemo2(replace: true) && before.patchedWorkBlocking { weight += 8 }
        // Mid-replace, a target coming or going shows the nop objects.
        if let transition = before.transition, before.patch(transition.patch)?.replace == true,
           action == .loadTarget || action == .unload(.target) { weight += 20 }
        // The stalled unpatch needs the demo, busymod held in its
        // replacement, then disabling the demo; inside it, a target coming
        // or going and the reversal are what differs from a patching stall.
        if action == .disable(.demo) && before.patchedWorkBlocking && before.transition == nil {
            weight += remaining > 2 ? 30 : 2
        }
        if let transition = before.transition, transition.direction == .unpatching,
           action == .loadTarget || action == .unload(.target) { weight += 40 }
        if let transition = before.transition, transition.direction == .unpatching,
           action == .disable(transition.patch) { weight += 10 }
        // A module refused with an earlier patch present needs demo2 with
        // its livepatch_callbacks_mod object before the demo, the demo's
        // pre-patch failing for that module while it is absent, then the
        // module's load.
        let demo2TakesTarget = before.patch(.demo2)?.objects.contains { $0.module == .target } == true
        // After the demo it cannot reach that, and it would take demo2 from
        // the replace the nop objects need.
        if action == .loadDemo2WithModObject { before.loaded.contains(.demo) ? (weight *= 0.2) : (weight += 2) }
        if demo2TakesTarget && !before.loaded.contains(.target) {
            if action == .loadDemoFailingOnly(.target) { weight += 4 }
            if action == .setPrePatchRet(fails: true) && before.patch(.demo) != nil { weight += 4 }
        }
        if step.branches.contains(ModelRule.prePatchFailureRefusesModule.branchName("earlier patch lets go")) { weight += 4 }
        // Leaving a clean kernel behind early ends the interesting part.
        if after.isClean && !before.isClean { weight *= 0.3 }
        return weight
    }

    private mutating func pick(_ choices: [(ExploreAction, Double)]) -> ExploreAction? {
        let total = choices.reduce(0) { $0 + $1.1 }
        guard total > 0 else { return nil }
        var point = Double.random(in: 0..<total, using: &random)
        for (action, weight) in choices {
            if point < weight { return action }
            point -= weight
        }
        return choices.last?.0
    }
}
