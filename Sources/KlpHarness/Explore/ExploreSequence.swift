/// One generated sequence: its actions, the teardown the model adds so it
/// ends on a clean kernel, and the scenario file both make, carrying the
/// model's transcript as the expectation.
public struct ExploreSequence: Codable, Equatable, Sendable {
    /// 1-based, within its run.
    public var number: Int
    /// The generated (or shrunk) actions.
    public var body: [ExploreAction]
    /// Disables and unloads whatever `body` left behind.
    public var teardown: [ExploreAction]

    public var actions: [ExploreAction] { body + teardown }

    /// Nil if the model does not allow `body` (a shrink candidate that
    /// removed an action a later one needs).
    public init?(number: Int, body: [ExploreAction], model: CallbackModel) {
        var state = CallbackModel.State()
        for action in body {
            guard model.apply(action, to: &state) != nil else { return nil }
        }
        self.number = number
        self.body = body
        self.teardown = model.teardown(from: state)
    }

    /// The scenario file: comments (`header`), then each action line with
    /// the model's expected lines under it.
    public func scenarioText(model: CallbackModel, header: [String]) -> String {
        var lines = header.map { $0.isEmpty ? "#" : "# \($0)" }
        var state = CallbackModel.State()
        for (index, action) in actions.enumerated() {
            if index == body.count && !teardown.isEmpty {
                lines.append("# Teardown: back to a clean kernel.")
            }
            guard let step = model.apply(action, to: &state) else { break }
            lines.append("% \(step.command)")
            lines += step.lines
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The parsed scenario the engine runs, named `name`.
    public func scenario(model: CallbackModel, name: String, header: [String] = []) throws -> Scenario {
        try ScenarioParser.parse(scenarioText(model: model, header: header), path: "explore/\(name).scenario")
    }

    /// The rules the model applies along the whole sequence, their
    /// branches, and the phase × action-kind pairs it reaches.
    public func coverage(model: CallbackModel) -> ExploreCoverage.Reached {
        var state = CallbackModel.State()
        var reached = ExploreCoverage.Reached()
        for action in actions {
            guard let step = model.apply(action, to: &state) else { break }
            reached.rules.formUnion(step.rules)
            reached.branches.formUnion(step.branches)
            reached.pairs.insert(ExploreCoverage.pair(step.phase, action))
        }
        return reached
    }
}

/// Shrinks a sequence that shows a mismatch to a shorter one that still
/// does, by removing runs of actions (halves, quarters, … single actions,
/// as delta debugging does) while the model still allows what is left.
/// Candidates are tried in batches: the explorer runs them one by one on
/// its kernel and stops at the first that still mismatches; `--compare`
/// runs a whole batch in one boot of each kernel.
public struct SequenceShrinker: Sendable {
    public let model: CallbackModel

    public init(model: CallbackModel) { self.model = model }

    /// The valid one-step reductions of `body`, biggest removals first.
    public func candidates(of body: [ExploreAction]) -> [[ExploreAction]] {
        var seen: Set<[ExploreAction]> = []
        var result: [[ExploreAction]] = []
        var size = max(1, body.count / 2)
        while true {
            var start = 0
            while start < body.count {
                var candidate = body
                candidate.removeSubrange(start..<min(body.count, start + size))
                if !candidate.isEmpty, seen.insert(candidate).inserted,
                   ExploreSequence(number: 0, body: candidate, model: model) != nil {
                    result.append(candidate)
                }
                start += size
            }
            if size == 1 { break }
            size = max(1, size / 2)
        }
        return result
    }

    /// Shrinks `body` as far as `firstFailing` lets it. `firstFailing`
    /// gets a batch of candidates and returns the index of the first that
    /// still mismatches, or nil; `budget` bounds the candidates offered in
    /// all. Returns the smallest failing body and the candidates tried.
    public func shrink(_ body: [ExploreAction], budget: Int = 300,
                       firstFailing: ([[ExploreAction]]) throws -> Int?) rethrows -> (body: [ExploreAction], tried: Int) {
        var current = body
        var tried = 0
        while tried < budget {
            let batch = Array(candidates(of: current).prefix(budget - tried))
            guard !batch.isEmpty else { break }
            guard let index = try firstFailing(batch) else {
                tried += batch.count
                break
            }
            tried += index + 1
            current = batch[index]
        }
        return (current, tried)
    }
}

/// What a run of the explorer reached: the model's rules, and which
/// phase × action pairs its sequences took.
public enum ExploreCoverage {
    /// What one sequence reached.
    public struct Reached: Equatable, Sendable {
        public var rules: Set<ModelRule> = []
        public var branches: Set<String> = []
        public var pairs: Set<String> = []
    }

    public static func pair(_ phase: CallbackModel.Phase, _ action: ExploreAction) -> String {
        "\(phase.rawValue) × \(kind(of: action))"
    }

    static func kind(of action: ExploreAction) -> String {
        switch action {
        case .loadTarget, .loadBusyTarget, .loadBusyTargetHoldingPatch: "load a target"
        case .loadDemo, .loadDemoFailingOnly, .loadDemo2, .loadDemo2WithModObject: "load a livepatch"
        case .unload(let module): module.isLivepatch ? "unload a livepatch" : "unload a target"
        case .disable: "disable a patch"
        case .enable: "enable a patch"
        case .setPrePatchRet: "set pre_patch_ret"
        case .releasePatchedWork: "release the patched work"
        case .waitForTransition: "wait for the transition"
        case .loadCrashModule: "load the crash module (test only)"
        }
    }

    /// Every pair a sequence can take: with no patch there is nothing to
    /// disable or enable, and the work held in the demo's replacement is
    /// released only with the patch enabled and no transition (waits are
    /// never generated: see CallbackModel.allows(_:in:)).
    public static var reachablePairs: [String] {
        let kinds = ["load a target", "load a livepatch", "unload a target", "unload a livepatch",
                     "disable a patch", "enable a patch", "set pre_patch_ret", "release the patched work"]
        return CallbackModel.Phase.allCases.flatMap { phase in
            kinds.compactMap { kind -> String? in
                if kind == "release the patched work" && phase != .patched { return nil }
                if phase == .noPatch && (kind == "disable a patch" || kind == "enable a patch") { return nil }
                return "\(phase.rawValue) × \(kind)"
            }
        }
    }
}
