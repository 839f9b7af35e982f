import Foundation

/// `klp-harness vm --explore N --seed S`: the explorer in the hermetic guest
/// of each kernel, one boot each, and another after each kernel crash
/// (ExploreBoot.explore). With `--compare`, the same sequences run
/// on two kernels with no model; the first sequence whose transcripts
/// differ is shrunk, in rounds that boot both kernels with a batch of
/// candidates, to a minimal scenario.
struct ExploreMatrix {
    let vm: KernelMatrix
    let explore: KernelMatrix.ExploreOptions
    let prepared: [KernelMatrix.PreparedKernel]
    let images: [GuestImage]
    let accelerator: Accelerator

    var log: @Sendable (String) -> Void { vm.log }
    var resultsRoot: String { absolute(vm.options.results) }

    func run() throws -> ExitStatus {
        if explore.compare { return try compare() }
        let streaming = prepared.count == 1
        let outcomes = try boot(arguments: explore.arguments(), files: [], root: resultsRoot, streaming: streaming, clear: true,
                                surviving: explore)
        for (index, outcome) in outcomes.enumerated() {
            let release = prepared[index].kernel.release
            if let document = outcome.document {
                if !streaming { document.summary.forEach { log("\(release): \($0)") } }
                log("\(release): explore results in \(resultsRoot)/\(release)/\(Explorer.folderName)/ (explore.json, coverage.txt\(document.mismatches.isEmpty ? "" : ", the shrunk .scenario files with their .diff or .crash.txt"))")
            }
            if let reason = outcome.infrastructureError {
                log("\(release): error: \(reason); console log: \(resultsRoot)/\(release)/\(ResultsFolder.consoleLogName)")
            }
        }
        if Interruption.isRequested { return Interruption.exitStatus }
        return ExitStatus.overall(outcomes.map(\.status))
    }

    /// Boots every kernel once with the same runner arguments (up to -j at
    /// a time) and returns what each guest reported. With `surviving`, a
    /// kernel crash does not end a kernel's run: its guest boots again for
    /// the rest of those options' sequences and the crash is shrunk.
    func boot(arguments: [String], files: [(name: String, text: String)], root: String, streaming: Bool,
              clear: Bool, surviving: KernelMatrix.ExploreOptions? = nil) throws -> [ExploreBoot.Result] {
        let results = ExploreResults(count: prepared.count)
        KernelMatrix.concurrently(prepared.count, width: vm.options.jobs) { index in
            guard !Interruption.isRequested else { return }
            let kernel = prepared[index]
            let release = kernel.kernel.release
            let folder = ResultsFolder(root: root, release: release)
            do {
                if clear { try folder.prepare() } else { try FileBytes.makeDirectories(folder.root) }
                let consoleLog = "\(folder.root)/\(ResultsFolder.consoleLogName)"
                if clear { try FileBytes.write("", to: consoleLog) }
                log("booting \(release) for explore (\(arguments.joined(separator: " "))); console log \(consoleLog)")
                let started = ContinuousClock.now
                let run = ExploreBoot(machine: vm.machine(kernel, image: images[index], folder: folder, accelerator: accelerator),
                                     emit: streaming ? { vm.output($0) } : nil)
                let result = try surviving.map { try run.explore($0) } ?? run.run(arguments: arguments, files: files)
                log("\(release): VM finished in \((ContinuousClock.now - started).secondsText) (exit \(result.status.rawValue))")
                results.set(index, result)
            } catch {
                log("\(release): error: \(error)")
                results.set(index, ExploreBoot.Result(status: (error as? HarnessError)?.status ?? .infrastructure,
                                                     infrastructureError: "\(error)"))
            }
        }
        return results.all
    }

    // MARK: --compare

    func compare() throws -> ExitStatus {
        guard prepared.count == 2 else {
            throw HarnessError.badInput("--compare runs the same sequences on two kernels; \(prepared.count) were given",
                                        remedy: "pass two, e.g. --kernel 6.1 --kernel 6.12 (the default with --compare)")
        }
        let releases = prepared.map(\.kernel.release)
        let first = try boot(arguments: explore.arguments(), files: [], root: resultsRoot, streaming: false, clear: true)
        guard let a = first[0].document, let b = first[1].document, first.allSatisfy({ $0.status == .passed }) else {
            for (index, result) in first.enumerated() where result.status != .passed {
                log("\(releases[index]): the recording run ended with \(result.status)\(result.infrastructureError.map { ": \($0)" } ?? "")")
            }
            return ExitStatus.overall(first.map(\.status) + [.infrastructure])
        }
        guard let diverging = Self.firstDivergence(a.sequences.map(\.actual), b.sequences.map(\.actual)) else {
            vm.output("# compare: \(a.sequences.count) sequence(s) of seed \(explore.seed): the same transcripts on \(releases[0]) and \(releases[1])")
            return .passed
        }
        let original = a.sequences[diverging]
        log("compare: sequence \(original.number) differs between \(releases[0]) and \(releases[1]); shrinking it (each round boots both kernels)")
        let rootForRounds = "\(resultsRoot)/compare/rounds"
        var rounds = 0
        let shrunk = try Self.shrinkDivergence(original.body, transcripts: (original.actual ?? [], b.sequences[diverging].actual ?? [])) { batch in
            rounds += 1
            let results = try boot(arguments: explore.arguments(sequencesFile: "sequences.json"),
                                   files: [("sequences.json", try ExploreBodies.encoded(batch))], root: rootForRounds,
                                   streaming: false, clear: rounds == 1)
            guard let ra = results[0].document, let rb = results[1].document else {
                throw HarnessError.infrastructure("a shrinking round of --compare got no results from a guest",
                                                  remedy: "see the console logs under \(rootForRounds)")
            }
            return (ra.sequences.map(\.actual), rb.sequences.map(\.actual))
        }
        let (body, smallest, tried) = (shrunk.body, shrunk.transcripts, shrunk.tried)
        let base = "seed\(explore.seed)-sequence\(original.number)"
        let directory = "\(resultsRoot)/compare"
        try FileBytes.makeDirectories(directory)
        let header = [
            "Found by klp-harness vm --explore \(explore.count) --seed \(explore.seed) --compare: sequence \(original.number),",
            "shrunk from \(original.body.count) to \(body.count) action(s), plus the teardown, in \(rounds) round(s) (\(tried) candidate(s)).",
            "The expected lines are what \(releases[0]) printed; \(base).diff shows \(releases[1]).",
            "Decide which kernel is right (or mark the line with @RELEASE: if both are) before",
            "this file goes into scenarios/.",
        ].map { "# \($0)" }
        try FileBytes.write((header + smallest.a).map { $0 + "\n" }.joined(), to: "\(directory)/\(base).scenario")
        let diff = UnifiedDiff(expected: smallest.a, actual: smallest.b).render(expectedLabel: releases[0], actualLabel: releases[1])
        try FileBytes.write(diff.map { $0 + "\n" }.joined(), to: "\(directory)/\(base).diff")
        vm.output("# compare: sequence \(original.number) of seed \(explore.seed) differs between \(releases[0]) and \(releases[1]); shrunk to \(body.count) action(s):")
        diff.forEach { vm.output("# \($0)") }
        vm.output("# written: \(directory)/\(base).scenario and \(base).diff")
        return .failed
    }

    /// Shrinks a sequence whose transcripts differ between two kernels.
    /// `record` runs a batch of bodies on both kernels (one boot each) and
    /// returns each side's transcripts; the result is the smallest body
    /// that still differs, with its two transcripts.
    static func shrinkDivergence(_ body: [ExploreAction], transcripts: ([String], [String]), budget: Int = 120,
                                 record: ([[ExploreAction]]) throws -> (a: [[String]?], b: [[String]?]))
        throws -> (body: [ExploreAction], transcripts: (a: [String], b: [String]), tried: Int) {
        var smallest = (a: transcripts.0, b: transcripts.1)
        let (shrunk, tried) = try SequenceShrinker(model: CallbackModel()).shrink(body, budget: budget) { batch in
            let (a, b) = try record(batch)
            guard let index = firstDivergence(a, b) else { return nil }
            smallest = (index < a.count ? a[index] ?? [] : [], index < b.count ? b[index] ?? [] : [])
            return index
        }
        return (shrunk, smallest, tried)
    }

    /// The index of the first sequence whose transcripts differ (a
    /// sequence one kernel has and the other lacks counts).
    static func firstDivergence(_ a: [[String]?], _ b: [[String]?]) -> Int? {
        for index in 0..<max(a.count, b.count) {
            let left = index < a.count ? a[index] : nil
            let right = index < b.count ? b[index] : nil
            if left != right { return index }
        }
        return nil
    }
}

/// Collects the guests' results from concurrent boots.
final class ExploreResults: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [ExploreBoot.Result?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: ExploreBoot.Result) { lock.withLock { results[index] = result } }

    var all: [ExploreBoot.Result] {
        lock.withLock { results.map { $0 ?? ExploreBoot.Result(status: Interruption.isRequested ? Interruption.exitStatus : .infrastructure) } }
    }
}
