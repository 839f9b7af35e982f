import Foundation

/// An exploration as the suite's results: explore.json becomes a
/// results.json with one entry per sequence, so junit.xml, the HTML page,
/// `klp-harness show` and `report` read an exploration as they read a
/// suite run. Built on the host from the document and the files the guest
/// sent (the guest writes only explore.json and the shrunk files).
public enum ExploreReport {
    /// The entry's name for sequence `number` of `seed`: also the base name
    /// of its shrunk files (`explore/seed1-sequence42.scenario`).
    public static func entryName(seed: UInt64, sequence number: Int) -> String {
        "seed\(seed)-sequence\(number)"
    }

    /// The files the entries quote (each mismatch's `.diff` and
    /// `.scenario`), relative to the release folder: the caller reads
    /// these and passes their texts to `resultsDocument`.
    public static func quotedFiles(of explore: ExploreDocument) -> [String] {
        explore.mismatches.flatMap(\.files).filter { $0.hasSuffix(".diff") || $0.hasSuffix(".scenario") }
    }

    /// results.json for one kernel's exploration: pure, so a unit test
    /// holds it to a real explore.json. `files` maps paths relative to the
    /// release folder (as `Mismatch.files` names them) to their text; a
    /// file missing from it is still listed among the artifacts.
    public static func resultsDocument(_ explore: ExploreDocument, files: [String: String] = [:],
                                       infrastructureError: String? = nil) -> ResultsDocument {
        var document = ResultsDocument(kernel: explore.kernel, planned: explore.planned)
        document.complete = explore.complete
        document.infrastructureError = infrastructureError
        let model = CallbackModel(mutation: explore.mutation.flatMap(CallbackModel.Mutation.init(rawValue:)))
        for sequence in explore.sequences {
            let mismatch = explore.mismatches.first { $0.sequence == sequence.number }
            document.scenarios.append(entry(sequence, mismatch: mismatch, of: explore, files: files, model: model))
        }
        return document
    }

    static func entry(_ sequence: ExploreDocument.Sequence, mismatch: ExploreDocument.Mismatch?, of explore: ExploreDocument,
                      files: [String: String], model: CallbackModel) -> ResultsDocument.Entry {
        var status = ScenarioStatus(rawValue: sequence.status) ?? .error
        // Under --compare the guest judges nothing (Explorer's recordOnly):
        // the model's verdict in the document is not the run's.
        if explore.recordOnly && status == .fail { status = .pass }
        if sequence.crash != nil || mismatch?.kind == "crash" { status = .crash }
        var diagnostics: [String] = []
        var excerpt: [String] = []
        var artifacts: [String: String] = [:]
        for file in mismatch?.files ?? [] { artifacts[artifactKey(file)] = file }
        if let file = mismatch?.scenarioFile { artifacts["scenario"] = file }

        if status == .crash {
            let lines = sequence.crash ?? []
            // JUnit's <failure message> and the page take the headline from here.
            diagnostics.append("kernel crashed: " + (lines.first ?? "no console excerpt (see console.log)"))
        }
        if let mismatch {
            diagnostics.append(shrinkNote(mismatch, status: status))
        } else if status == .fail {
            diagnostics.append("the kernel's transcript differs from the model's")
        }
        diagnostics.append("seed \(explore.seed), sequence \(sequence.number): " + commands(sequence.body)
            + (sequence.teardown.isEmpty ? "" : "; teardown: " + commands(sequence.teardown)))

        switch status {
        case .crash:
            excerpt = sequence.crash ?? []
            if let file = mismatch?.scenarioFile, let text = files[file] {
                excerpt += ["", "The shrunk reproducer, \(file):"] + lines(of: text)
            }
        case .fail:
            if let file = mismatch?.files.first(where: { $0.hasSuffix(".diff") }), let text = files[file] {
                excerpt = lines(of: text)
            } else if let actual = sequence.actual, let expected = model.transcript(of: sequence.body + sequence.teardown) {
                // Not shrunk (past --shrink-limit): the whole sequence's diff.
                excerpt = UnifiedDiff(expected: expected, actual: actual).render(expectedLabel: "model", actualLabel: "kernel (\(explore.kernel))")
            }
        default:
            excerpt = Array((sequence.actual ?? []).suffix(5))
        }
        return ResultsDocument.Entry(number: sequence.number, name: entryName(seed: explore.seed, sequence: sequence.number),
                                     status: status, durationSeconds: sequence.seconds, transitionSeconds: 0, transitions: 0,
                                     diagnostics: diagnostics, logExcerpt: excerpt, artifacts: artifacts,
                                     seed: explore.seed, sequence: sequence.number)
    }

    static func shrinkNote(_ mismatch: ExploreDocument.Mismatch, status: ScenarioStatus) -> String {
        let what = status == .crash ? "crash reproducer" : "mismatch with the model"
        guard let shrunk = mismatch.shrunk else {
            return "\(what), not shrunk (the run's shrink limit was reached)"
        }
        return "\(what), shrunk from \(mismatch.original.count) to \(shrunk.count) action(s)"
            + (mismatch.shrinkRuns.map { " in \($0) run(s)" } ?? "")
            + (mismatch.scenarioFile.map { ": \($0)" } ?? "")
    }

    /// The artifact key of a shrunk file: `scenario`, `diff`, `kmsg`, or
    /// its own name.
    static func artifactKey(_ path: String) -> String {
        if path.hasSuffix(".scenario") { return "scenario" }
        if path.hasSuffix(".kmsg.txt") { return "kmsg" }
        if path.hasSuffix(".diff") { return "diff" }
        return path.split(separator: "/").last.map(String.init) ?? path
    }

    static func commands(_ actions: [ExploreAction]) -> String {
        actions.map { $0.command() }.joined(separator: "; ")
    }

    static func lines(of text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLastIfEmpty()
    }
}

extension ExploreReport {
    /// The results document of one kernel's folder (the release folder):
    /// from the explore.json the guest sent and the shrunk files it sent
    /// with it, read from the folder. With no document (the guest died
    /// first), an empty one with the reason.
    static func resultsDocument(_ explore: ExploreDocument?, release: String, planned: Int, folder: ResultsFolder,
                                infrastructureError: String?) -> ResultsDocument {
        guard let explore else {
            var document = ResultsDocument(kernel: release, planned: planned)
            document.infrastructureError = infrastructureError
            return document
        }
        var texts: [String: String] = [:]
        for file in quotedFiles(of: explore) where !file.contains("..") {
            texts[file] = try? KernelFile.read("\(folder.root)/\(file)")
        }
        return resultsDocument(explore, files: texts, infrastructureError: infrastructureError)
    }
}
