import Foundation

/// `klp-harness vm --explore N --seed S`: the explorer in the hermetic guest
/// of each kernel, one boot each, and another after each kernel crash
/// (ExploreBoot.explore). With `--compare`, the same sequences run
/// on two or more kernels with no model; the first sequence whose
/// transcripts are not all equal splits the kernels into groups that agree,
/// and is shrunk, in rounds that boot every kernel with a batch of
/// candidates, to a minimal scenario that splits them the same way.
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
        writeReports(outcomes, root: resultsRoot)
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

    // MARK: Reports

    /// results.json and junit.xml in each kernel's folder, beside
    /// explore/, then junit.xml and index.html over them in `root`: the
    /// files a suite run leaves, built from each guest's explore.json
    /// (ExploreReport). `amend` adjusts a kernel's document before it is
    /// written (--compare marks its divergence). A report that cannot be
    /// written is a warning: the run's verdict stands without it.
    func writeReports(_ outcomes: [ExploreBoot.Result], root: String,
                      amend: (Int, inout ResultsDocument) -> Void = { _, _ in }) {
        var runs: [ResultsArchive.KernelRun] = []
        for (index, outcome) in outcomes.enumerated() {
            let release = prepared[index].kernel.release
            let folder = ResultsFolder(root: root, release: release)
            var document = ExploreReport.resultsDocument(outcome.document, release: release, planned: explore.count,
                                                         folder: folder, infrastructureError: outcome.infrastructureError)
            amend(index, &document)
            do {
                try folder.write(document)
                runs.append(ResultsArchive.KernelRun(release: release, directory: folder.root, document: document, delivered: [:]))
            } catch {
                log("\(release): warning: no results.json: \(error)")
            }
        }
        guard !runs.isEmpty else { return }
        let page = "\(root)/index.html"
        do {
            try JUnitReport.write(runs.map(\.document), to: "\(root)/junit.xml")
            try HTMLReport.write(ResultsArchive(root: root, kernels: runs), to: page)
            log("HTML report: \(page); results.json and junit.xml in each kernel's folder")
        } catch {
            log("warning: no HTML report: \(error)")
        }
    }

    // MARK: --compare

    func compare() throws -> ExitStatus {
        guard prepared.count >= 2 else {
            throw HarnessError.badInput("--compare runs the same sequences on two or more kernels; \(prepared.count) was given",
                                        remedy: "pass two or more, e.g. --kernel 6.1 --kernel 6.12 --kernel 6.1-cloud (6.1 and 6.12 are the default with --compare)")
        }
        let releases = prepared.map(\.kernel.release)
        let first = try boot(arguments: explore.arguments(), files: [], root: resultsRoot, streaming: false, clear: true)
        let documents = first.compactMap(\.document)
        guard documents.count == first.count, first.allSatisfy({ $0.status == .passed }) else {
            for (index, result) in first.enumerated() where result.status != .passed {
                log("\(releases[index]): the recording run ended with \(result.status)\(result.infrastructureError.map { ": \($0)" } ?? "")")
            }
            writeReports(first, root: resultsRoot)
            return ExitStatus.overall(first.map(\.status) + [.infrastructure])
        }
        guard let divergence = Self.firstDivergence(documents.map { $0.sequences.map(\.actual) }) else {
            writeReports(first, root: resultsRoot)
            vm.output("# compare: \(documents[0].sequences.count) sequence(s) of seed \(explore.seed): the same transcripts on \(Self.listed(releases))")
            return .passed
        }
        // A kernel that lacks the sequence has no body for it: take it
        // from one that has it.
        guard let original = documents.lazy.compactMap({ $0.sequences.indices.contains(divergence.index) ? $0.sequences[divergence.index] : nil }).first else {
            throw HarnessError.infrastructure("--compare found no kernel that ran sequence \(divergence.index + 1)",
                                              remedy: "see the console logs under \(resultsRoot)")
        }
        let transcripts = documents.map { $0.sequences.indices.contains(divergence.index) ? $0.sequences[divergence.index].actual : nil }
        log("compare: sequence \(original.number): \(Self.agreement(divergence.groups, releases: releases)); "
            + "shrinking it, keeping those groups (each round boots every kernel)")
        let rootForRounds = "\(resultsRoot)/compare/rounds"
        var rounds = 0
        let shrunk = try Self.shrinkDivergence(original.body, transcripts: transcripts) { batch in
            rounds += 1
            let results = try boot(arguments: explore.arguments(sequencesFile: "sequences.json"),
                                   files: [("sequences.json", try ExploreBodies.encoded(batch))], root: rootForRounds,
                                   streaming: false, clear: rounds == 1)
            let documents = results.compactMap(\.document)
            guard documents.count == results.count else {
                throw HarnessError.infrastructure("a shrinking round of --compare got no results from a guest",
                                                  remedy: "see the console logs under \(rootForRounds)")
            }
            return documents.map { $0.sequences.map(\.actual) }
        }
        let groups = divergence.groups
        let base = ExploreReport.entryName(seed: explore.seed, sequence: original.number)
        let directory = "\(resultsRoot)/compare"
        try FileBytes.makeDirectories(directory)
        let expectedGroup = Self.listed(groups[0].map { releases[$0] })
        let diffNames = Self.diffFileNames(base: base, groups: groups, releases: releases)
        let header = [
            "Found by klp-harness vm --explore \(explore.count) --seed \(explore.seed) --compare: sequence \(original.number),",
            "shrunk from \(original.body.count) to \(shrunk.body.count) action(s), plus the teardown, in \(rounds) round(s) (\(shrunk.tried) candidate(s)),",
            "keeping the kernels in the same groups: \(Self.agreement(groups, releases: releases)).",
            "The expected lines are what \(expectedGroup) printed; \(diffNames.joined(separator: ", ")) show\(diffNames.count == 1 ? "s" : "") the other group\(diffNames.count == 1 ? "" : "s").",
            "Decide which kernel is right (or mark the line with @RELEASE: if both are) before",
            "this file goes into scenarios/.",
        ].map { "# \($0)" }
        try FileBytes.write((header + shrunk.transcripts[groups[0][0]]).map { $0 + "\n" }.joined(), to: "\(directory)/\(base).scenario")
        vm.output("# compare: sequence \(original.number) of seed \(explore.seed): \(Self.agreement(groups, releases: releases)); shrunk to \(shrunk.body.count) action(s):")
        for (group, name) in zip(groups.dropFirst(), diffNames) {
            let diff = UnifiedDiff(expected: shrunk.transcripts[groups[0][0]], actual: shrunk.transcripts[group[0]])
                .render(expectedLabel: expectedGroup, actualLabel: Self.listed(group.map { releases[$0] }))
            try FileBytes.write(diff.map { $0 + "\n" }.joined(), to: "\(directory)/\(name)")
            diff.forEach { vm.output("# \($0)") }
        }
        vm.output("# written: \(directory)/\(base).scenario and \(diffNames.joined(separator: ", "))")
        // Each kernel's results: the diverging sequence fails on the
        // kernels outside the first group, whose transcript the scenario
        // expects, with the shrunk files beside it.
        writeReports(first, root: resultsRoot) { index, document in
            guard let group = groups.firstIndex(where: { $0.contains(index) }), group > 0,
                  let entry = document.scenarios.firstIndex(where: { $0.number == original.number }) else { return }
            document.scenarios[entry].status = .fail
            document.scenarios[entry].diagnostics.insert("the transcripts differ between kernels: \(Self.agreement(groups, releases: releases)); "
                + "shrunk to \(shrunk.body.count) action(s) in ../compare/", at: 0)
            document.scenarios[entry].logExcerpt = UnifiedDiff(expected: transcripts[groups[0][0]] ?? [], actual: transcripts[index] ?? [])
                .render(expectedLabel: expectedGroup, actualLabel: releases[index])
            document.scenarios[entry].artifacts["scenario"] = "../compare/\(base).scenario"
            document.scenarios[entry].artifacts["diff"] = "../compare/\(diffNames[group - 1])"
        }
        return .failed
    }

    /// The diff files of `--compare`, one per group after the first: with
    /// one other group (always so for two kernels) `<base>.diff`; with
    /// more, `<base>.<release>.diff`, named after the group's first kernel.
    static func diffFileNames(base: String, groups: [[Int]], releases: [String]) -> [String] {
        groups.count == 2 ? ["\(base).diff"] : groups.dropFirst().map { "\(base).\(releases[$0[0]]).diff" }
    }

    /// Shrinks a sequence whose transcripts split the kernels into groups.
    /// `record` runs a batch of bodies on every kernel (one boot each) and
    /// returns each kernel's transcripts. A candidate counts only if it
    /// splits the kernels into the same groups as `transcripts` do (so a
    /// candidate where only some of the differing kernels still differ is
    /// another divergence, not this one), and only if every kernel ran it
    /// (a guest that died mid-batch says nothing). The result is the
    /// smallest body that still does, with each kernel's transcript.
    static func shrinkDivergence(_ body: [ExploreAction], transcripts: [[String]?], budget: Int = 120,
                                 record: ([[ExploreAction]]) throws -> [[[String]?]])
        throws -> (body: [ExploreAction], transcripts: [[String]], tried: Int) {
        let target = partition(transcripts)
        var smallest = transcripts.map { $0 ?? [] }
        let (shrunk, tried) = try SequenceShrinker(model: CallbackModel()).shrink(body, budget: budget) { batch in
            let kernels = try record(batch)
            for index in batch.indices {
                let candidate = kernels.map { index < $0.count ? $0[index] : nil }
                if sameDivergence(candidate, as: target) {
                    smallest = candidate.map { $0 ?? [] }
                    return index
                }
            }
            return nil
        }
        return (shrunk, smallest, tried)
    }

    /// Whether one candidate's transcripts (one per kernel) split the
    /// kernels into `groups`: the shrink's predicate.
    static func sameDivergence(_ transcripts: [[String]?], as groups: [[Int]]) -> Bool {
        transcripts.allSatisfy { $0 != nil } && partition(transcripts) == groups
    }

    /// The kernels grouped by identical transcripts: indexes, each group
    /// in kernel order, the groups in the order of their first kernel (so
    /// the first kernel's group is first, and two partitions compare with ==).
    static func partition(_ transcripts: [[String]?]) -> [[Int]] {
        var groups: [[Int]] = []
        for (index, transcript) in transcripts.enumerated() {
            if let group = groups.firstIndex(where: { transcripts[$0[0]] == transcript }) {
                groups[group].append(index)
            } else {
                groups.append([index])
            }
        }
        return groups
    }

    /// The first sequence whose transcripts are not all equal, and how
    /// they group the kernels; `kernels` holds each kernel's transcripts
    /// in sequence order (a sequence one kernel has and another lacks
    /// counts as a divergence).
    static func firstDivergence(_ kernels: [[[String]?]]) -> (index: Int, groups: [[Int]])? {
        let count = kernels.map(\.count).max() ?? 0
        for index in 0..<count {
            let groups = partition(kernels.map { index < $0.count ? $0[index] : nil })
            if groups.count > 1 { return (index, groups) }
        }
        return nil
    }

    /// Which kernels agree: "A and B agree; C differs", or "A and B
    /// differ" when no two agree.
    static func agreement(_ groups: [[Int]], releases: [String]) -> String {
        if groups.allSatisfy({ $0.count == 1 }) {
            let names = groups.map { releases[$0[0]] }
            return names.count == 2 ? "\(names[0]) and \(names[1]) differ" : "\(listed(names)) all differ"
        }
        return groups.map { group in
            group.count == 1 ? "\(releases[group[0]]) differs" : "\(listed(group.map { releases[$0] })) agree"
        }.joined(separator: "; ")
    }

    /// "A", "A and B", "A, B and C".
    static func listed(_ names: [String]) -> String {
        names.count <= 2 ? names.joined(separator: " and ") : names.dropLast().joined(separator: ", ") + " and " + names[names.count - 1]
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
