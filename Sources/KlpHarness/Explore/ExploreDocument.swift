import Foundation

/// explore.json: what a run of the explorer did, for people and for the
/// host (`--compare` reads each kernel's transcripts from it).
public struct ExploreDocument: Codable, Sendable {
    public var kernel: String
    public var seed: UInt64
    public var planned: Int
    /// The test-only wrong rule the model ran with, if any.
    public var mutation: String?
    public var recordOnly: Bool
    public var complete = false
    public var seconds = 0.0
    public var sequences: [Sequence] = []
    public var mismatches: [Mismatch] = []
    /// How often each rule was applied, by rule name.
    public var rules: [String: Int] = [:]
    /// How often each rule branch was taken, by `ModelRule.branchName(_:)`.
    /// Optional so that an explore.json from before branches still reads.
    public var branches: [String: Int]?
    /// The phase × action pairs reached.
    public var pairs: [String] = []
    /// Kernel transitions the sequences made, and the time spent in them:
    /// at 2 vCPUs each takes about the kernel's 1-second retry.
    public var transitions = 0
    public var transitionSeconds = 0.0

    public struct Sequence: Codable, Sendable, Equatable {
        public var number: Int
        public var body: [ExploreAction]
        public var teardown: [ExploreAction]
        public var status: String
        public var seconds: Double
        /// The kernel's transcript, kept when it is compared between
        /// kernels or differs from the model's.
        public var actual: [String]?
        /// When the kernel crashed during this sequence (status "crash"):
        /// the console excerpt, its headline first. Set by the host, which
        /// alone sees the console.
        public var crash: [String]?
    }

    public struct Mismatch: Codable, Sendable, Equatable {
        public var sequence: Int
        public var original: [ExploreAction]
        /// "crash" when the sequence crashed the kernel (the shrunk body
        /// still crashes it); nil when the kernel's transcript differs from
        /// the model's (or, under --compare, from another kernel's).
        public var kind: String?
        public var shrunk: [ExploreAction]?
        public var shrinkRuns: Int?
        public var shrinkSeconds: Double?
        /// The scenario file, relative to the release folder.
        public var scenarioFile: String?
        public var files: [String] = []

        public init(sequence: Int, original: [ExploreAction]) {
            self.sequence = sequence
            self.original = original
        }
    }

    public init(kernel: String, seed: UInt64, planned: Int, mutation: String?, recordOnly: Bool) {
        self.kernel = kernel
        self.seed = seed
        self.planned = planned
        self.mutation = mutation
        self.recordOnly = recordOnly
        self.branches = [:]
    }

    mutating func record(_ sequence: ExploreSequence, result: ScenarioResult, coverage: ExploreCoverage.Reached) {
        let keep = recordOnly || result.status != .passed
        sequences.append(Sequence(number: sequence.number, body: sequence.body, teardown: sequence.teardown,
                                  status: ScenarioStatus(result.status).rawValue, seconds: result.wallTime.seconds,
                                  actual: keep ? result.actual : nil))
        transitions += result.transitions.count
        transitionSeconds += result.transitions.totalDuration.seconds
        for rule in coverage.rules { rules[rule.rawValue, default: 0] += 1 }
        for branch in coverage.branches { branches?[branch, default: 0] += 1 }
        pairs = Array(Set(pairs).union(coverage.pairs)).sorted()
    }

    public var missingRules: [ModelRule] { ModelRule.allCases.filter { rules[$0.rawValue, default: 0] == 0 } }

    public var missingBranches: [String] { ModelRule.allBranches.filter { branches?[$0, default: 0] ?? 0 == 0 } }

    public var missingPairs: [String] { ExploreCoverage.reachablePairs.filter { !pairs.contains($0) } }

    /// The mismatches that are crash reproducers.
    public var crashes: Int { mismatches.filter { $0.kind == "crash" }.count }

    public var perMinute: Double { seconds > 0 ? Double(sequences.count) * 60 / seconds : 0 }

    /// The closing `# ` lines of the KTAP stream.
    public var summary: [String] {
        var lines = ["explore: \(sequences.count) sequence(s) in \(String(format: "%.1f", seconds)) s (\(String(format: "%.1f", perMinute)) per minute); "
            + (recordOnly ? "transcripts recorded for --compare" : "\(mismatches.count - crashes) mismatch(es) with the model")
            + (crashes > 0 ? "; \(crashes) kernel crash(es)" : "")]
        if transitions > 0 {
            lines.append("transitions: \(transitions) in \(String(format: "%.1f", transitionSeconds)) s (\(String(format: "%.3f", transitionSeconds / Double(transitions))) s each)")
        }
        lines.append("coverage: \(ModelRule.allCases.count - missingRules.count) of \(ModelRule.allCases.count) rules, "
            + "\(ModelRule.allBranches.count - missingBranches.count) of \(ModelRule.allBranches.count) branches, "
            + "\(ExploreCoverage.reachablePairs.count - missingPairs.count) of \(ExploreCoverage.reachablePairs.count) phase × action pairs"
            + (missingRules.isEmpty && missingBranches.isEmpty ? "" : "; never reached: "
                + (missingRules.map(\.rawValue) + missingBranches).joined(separator: ", ")))
        for mismatch in mismatches {
            let what = mismatch.kind == "crash" ? "crash" : "mismatch"
            if let file = mismatch.scenarioFile {
                lines.append("\(what): sequence \(mismatch.sequence), shrunk from \(mismatch.original.count) to \(mismatch.shrunk?.count ?? 0) action(s): \(file)")
            } else {
                lines.append("\(what): sequence \(mismatch.sequence) (not shrunk)")
            }
        }
        return lines
    }

    /// explore.json and coverage.txt, named and written the same by the
    /// guest's explorer and by the host that merges a run's boots.
    public func files() throws -> [(name: String, text: String)] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return [("explore.json", String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"),
                ("coverage.txt", coverageReport.joined(separator: "\n") + "\n")]
    }

    /// coverage.txt: every rule with its count, then the pairs.
    public var coverageReport: [String] {
        var lines = ["# Model rules applied by \(sequences.count) sequence(s) of seed \(seed) on \(kernel)", ""]
        for rule in ModelRule.allCases {
            let count = rules[rule.rawValue, default: 0]
            lines.append("\(count == 0 ? "NEVER" : String(count).leftPadded(to: 5))  \(rule.rawValue): \(rule.summary)")
            for branch in rule.branches {
                let taken = branches?[rule.branchName(branch), default: 0] ?? 0
                lines.append("\(taken == 0 ? "NEVER" : String(taken).leftPadded(to: 5))      branch \(branch)")
            }
        }
        lines += ["", "# Phase × action pairs (\(ExploreCoverage.reachablePairs.count - missingPairs.count) of \(ExploreCoverage.reachablePairs.count) reached)", ""]
        for pair in ExploreCoverage.reachablePairs {
            lines.append("\(pairs.contains(pair) ? "  yes" : "   no")  \(pair)")
        }
        return lines
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// The file of sequence bodies `explore --sequences` runs: a JSON array of
/// action arrays.
public enum ExploreBodies {
    public static func read(_ path: String) throws -> [[ExploreAction]] {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path)
        } catch {
            throw HarnessError.badInput("cannot read the sequences file \(path): \(error)", remedy: "pass a file written by 'klp-harness vm --explore --compare'")
        }
        do {
            return try JSONDecoder().decode([[ExploreAction]].self, from: Data(bytes))
        } catch {
            throw HarnessError.badInput("\(path) is not a JSON array of action arrays: \(error)", remedy: "pass a file written by 'klp-harness vm --explore --compare'")
        }
    }

    public static func encoded(_ bodies: [[ExploreAction]]) throws -> String {
        String(decoding: try JSONEncoder().encode(bodies), as: UTF8.self)
    }
}
