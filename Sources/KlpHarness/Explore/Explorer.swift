import Foundation

/// `klp-harness explore`: generated sequences run on the live kernel with
/// the scenario engine and checked against the model's transcript. A
/// mismatch is shrunk, on this kernel, to a minimal sequence that still
/// mismatches, written out as a ready scenario file with its diff.
///
/// With `recordOnly` (the guest side of `vm --explore --compare`) nothing
/// is judged against the model: each sequence's transcript is recorded for
/// the host to compare between kernels.
public struct Explorer {
    public struct Options: Sendable {
        public var modules: String
        public var results: String
        public var seed: UInt64 = 1
        public var count = 100
        public var timeout: Duration = .seconds(Explorer.defaultTimeoutSeconds)
        public var resultsChannel: String?
        /// Test-only: a wrong rule the run must catch.
        public var mutation: CallbackModel.Mutation?
        /// Record transcripts for `--compare`; judge nothing.
        public var recordOnly = false
        /// Run these bodies instead of generating (the host's shrink rounds).
        public var bodies: [[ExploreAction]]?
        /// Mismatches shrunk per run; later ones are listed, not shrunk.
        public var shrinkLimit = 3
        /// Candidate runs per shrink.
        public var shrinkBudget = 200
        /// The first generated sequence to run: the host's boot after a
        /// kernel crash goes on from the crashed sequence's successor. The
        /// earlier bodies are generated and discarded, so the numbers and
        /// bodies are the seed's.
        public var first = 1
        /// Test only: sequence K also loads the crash module with
        /// crash=oops (see `seedingCrash(in:model:)`).
        public var crashInSequence: Int?

        public init(modules: String, results: String) {
            self.modules = modules
            self.results = results
        }
    }

    public static let folderName = "explore"

    /// The per-sequence time limit of `explore` and `vm --explore`, in
    /// seconds: one value, so the two commands cannot drift apart. A
    /// sequence is a few loads and writes, each transition about 1 s.
    public static let defaultTimeoutSeconds = 20

    public var options: Options
    public var output: (String) -> Void

    public init(options: Options, output: @escaping (String) -> Void) {
        self.options = options
        self.output = output
    }

    public func run() throws -> ExitStatus {
        let release = SystemState.kernelRelease
        let folder = ResultsFolder(root: options.results, release: release)
        let model = CallbackModel(mutation: options.mutation)
        let opened = try SuiteRunner.open(folder, output: output)
        let report = opened.report
        if let skipReason = opened.skipReason {
            report.skipAll(reason: skipReason)
            return .skipped
        }
        guard let results = opened.results else { return .skipped }

        // Every module the alphabet loads must be here, built for this kernel.
        let everything = ExploreSequence(number: 0, body: [.loadTarget, .loadBusyTarget(blocking: false), .loadDemo(prePatchFails: false),
                                                           .loadDemo2(replace: false)], model: model)
        let prepared = try SuiteRunner.prepareKernel(
            modules: options.modules, checking: try everything.map { [try $0.scenario(model: model, name: "modules")] } ?? [],
            release: release, control: opened.control, resultsChannel: options.resultsChannel, timeout: options.timeout)
        defer { prepared.dynamicDebug.restore() }
        let engine = prepared.engine, channel = prepared.channel

        var generator = SequenceGenerator(seed: options.seed, model: model)
        let planned = options.bodies?.count ?? options.count
        var document = ExploreDocument(kernel: release, seed: options.seed, planned: planned, mutation: options.mutation?.rawValue,
                                       recordOnly: options.recordOnly)
        let clock = ContinuousClock()
        let started = clock.now
        report.header(plan: planned)
        report.diagnostic("explore: kernel \(release); seed \(options.seed); \(planned) sequence(s)"
            + (options.mutation.map { "; model mutation \($0.rawValue) (test only)" } ?? "")
            + (options.recordOnly ? "; recording transcripts for --compare" : ""))
        var outcomes: [ScenarioStatus] = []
        var shrunk = 0
        if options.bodies == nil {
            for _ in stride(from: 1, to: options.first, by: 1) { _ = generator.next() }
        }
        for number in stride(from: max(1, options.first), through: planned, by: 1) {
            if Interruption.isRequested { break }
            var body = options.bodies?[number - 1] ?? generator.next()
            if options.bodies == nil && number == options.crashInSequence {
                body = Self.seedingCrash(in: body, model: model)
            }
            guard let sequence = ExploreSequence(number: number, body: body, model: model) else {
                throw HarnessError.badInput("sequence \(number) is not valid for the model: \(body.map { $0.command() })",
                                            remedy: "pass sequences made by 'klp-harness explore' or its shrinker")
            }
            let name = "sequence-\(number)"
            let result = engine.run(try sequence.scenario(model: model, name: name))
            let coverage = sequence.coverage(model: model)
            document.record(sequence, result: result, coverage: coverage)
            var status = ScenarioStatus(result.status)
            if options.recordOnly && result.status == .failed { status = .pass }
            outcomes.append(status)
            if status != .pass {
                report.diagnostic(result.diagnostics.joined(separator: "\n"))
                if result.status == .failed && !options.recordOnly {
                    if shrunk < options.shrinkLimit {
                        shrunk += 1
                        let found = try shrink(sequence, firstResult: result, engine: engine, model: model, release: release,
                                               results: results, report: report)
                        document.mismatches.append(found)
                        for file in found.files { try channel?.send(file, from: folder.root) }
                    } else {
                        document.mismatches.append(ExploreDocument.Mismatch(sequence: number, original: sequence.body))
                        report.diagnostic("sequence \(number) mismatches too; not shrunk (--shrink-limit \(options.shrinkLimit) reached)")
                    }
                }
            }
            report.emit(status == .pass ? "ok \(number) \(name)" : "not ok \(number) \(name)")
        }
        document.seconds = (clock.now - started).seconds
        document.complete = !Interruption.isRequested
        let files = try write(document, results: results, model: model)
        for file in files { try channel?.send(file, from: folder.root) }
        try channel?.drain()
        for line in document.summary { report.diagnostic(line) }
        report.totals(StatusTally(outcomes))
        if Interruption.isRequested { return Interruption.exitStatus }
        return outcomes.allSatisfy { $0 == .pass } ? .passed : .failed
    }

    /// Sequence `number` of `seed` as the guest generates it (with the
    /// test-only crash load when `crashInSequence` is `number`): the host
    /// needs the body of a sequence during which the kernel crashed, since
    /// the guest died before it could report it.
    public static func generatedBody(seed: UInt64, number: Int, model: CallbackModel, crashInSequence: Int? = nil) -> [ExploreAction] {
        var generator = SequenceGenerator(seed: seed, model: model)
        for _ in stride(from: 1, to: number, by: 1) { _ = generator.next() }
        let body = generator.next()
        return number == crashInSequence ? seedingCrash(in: body, model: model) : body
    }

    /// `body` with the crash module's load inserted in its second half,
    /// at the first point with no transition in progress:
    /// __klp_enable_patch() (kernel/livepatch/core.c) refuses a patch with
    /// -EBUSY while another transitions, before any pre-patch callback, so
    /// the load would not oops there. Before the first action the kernel
    /// is clean, so a point always exists. Actions before and after it
    /// give the shrinker something to remove.
    public static func seedingCrash(in body: [ExploreAction], model: CallbackModel) -> [ExploreAction] {
        var state = CallbackModel.State()
        var quiet: [Int] = [0]
        for (index, action) in body.enumerated() {
            guard model.apply(action, to: &state) != nil else { break }
            if state.transition == nil { quiet.append(index + 1) }
        }
        let point = quiet.first { $0 >= body.count / 2 } ?? quiet.last ?? 0
        var seeded = body
        seeded.insert(.loadCrashModule, at: point)
        return seeded
    }

    /// Shrinks a mismatching sequence on this kernel and writes the result
    /// as `explore/seed<S>-sequence<N>.scenario` and `.diff`.
    func shrink(_ sequence: ExploreSequence, firstResult: ScenarioResult, engine: ScenarioEngine, model: CallbackModel,
                release: String, results: OpenResultsFolder, report: KTAPReport) throws -> ExploreDocument.Mismatch {
        let clock = ContinuousClock()
        let started = clock.now
        var smallest = firstResult
        var runs = 0
        let (body, _) = try SequenceShrinker(model: model).shrink(sequence.body, budget: options.shrinkBudget) { batch in
            for (index, candidate) in batch.enumerated() {
                if Interruption.isRequested { return nil }
                guard let shrunk = ExploreSequence(number: sequence.number, body: candidate, model: model) else { continue }
                runs += 1
                let result = engine.run(try shrunk.scenario(model: model, name: "sequence-\(sequence.number)-shrinking"))
                if result.status == .failed {
                    smallest = result
                    return index
                }
            }
            return nil
        }
        let elapsed = clock.now - started
        let base = "seed\(options.seed)-sequence\(sequence.number)"
        let final = ExploreSequence(number: sequence.number, body: body, model: model) ?? sequence
        let header = [
            "Found by klp-harness explore --seed \(options.seed) on \(release): sequence \(sequence.number),",
            "shrunk from \(sequence.body.count) to \(body.count) action(s) (plus the teardown) in \(runs) run(s).",
            "The expected lines are the model's prediction" + (options.mutation.map { ", made with the test-only wrong rule \($0.rawValue)." } ?? "."),
            "\(base).diff shows what the kernel printed instead. Judge which is right",
            "before this file goes into scenarios/: if the kernel is, fix the model and",
            "these lines; if the model is, this is the regression test for a kernel bug.",
        ]
        let text = final.scenarioText(model: model, header: header)
        let diff = UnifiedDiff(expected: smallest.expected, actual: smallest.actual)
            .render(expectedLabel: "\(Self.folderName)/\(base).scenario", actualLabel: "kernel (\(release))")
        var files = [try results.write(text, to: "\(base).scenario", in: Self.folderName)]
        files.append(try results.write((smallest.diagnostics + diff).map { $0 + "\n" }.joined(), to: "\(base).diff", in: Self.folderName))
        files.append(try results.write(smallest.records.map { $0.dmesgLine + "\n" }.joined(), to: "\(base).kmsg.txt", in: Self.folderName))
        report.diagnostic("mismatch in sequence \(sequence.number), shrunk from \(sequence.body.count) to \(body.count) action(s) in \(runs) run(s), \(elapsed.secondsText):")
        report.diagnostic(diff.joined(separator: "\n"))
        report.diagnostic("written in the results folder of this kernel: \(files[0]) (the model's transcript), \(base).diff and \(base).kmsg.txt (the kernel log of that run)")
        var mismatch = ExploreDocument.Mismatch(sequence: sequence.number, original: sequence.body)
        mismatch.shrunk = body
        mismatch.shrinkRuns = runs
        mismatch.shrinkSeconds = elapsed.seconds
        mismatch.scenarioFile = files[0]
        mismatch.files = files
        return mismatch
    }

    /// explore.json and coverage.txt; returns their paths.
    func write(_ document: ExploreDocument, results: OpenResultsFolder, model: CallbackModel) throws -> [String] {
        try document.files().map { try results.write($0.text, to: $0.name, in: Self.folderName) }
    }
}
