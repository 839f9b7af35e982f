/// `klp-harness accept`: a failed scenario's actual transcript written
/// into its scenario file, for a person to review with `git diff`, as
/// testscript's `-update` and cram's `-i` do. Comments, blank lines, the
/// `% requires` directive and the action lines stay where they are; only
/// the expected kernel lines are replaced. Whatever cannot be written
/// faithfully is refused with the reason, and nothing is written for that
/// scenario: the file must parse back to exactly the actual transcript.
public struct TranscriptAcceptance {
    /// Why a scenario's actual transcript was not accepted.
    public struct Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        public var scenario: String
        public var reason: String
        public var description: String { "\(scenario): \(reason)" }
    }

    /// One kernel's run of the scenario, as the results folder holds it.
    public struct Run: Sendable {
        public var release: String
        public var status: ScenarioStatus
        /// expected.txt: the transcript the run judged against.
        public var expected: [String]
        /// actual.txt.
        public var actual: [String]

        public init(release: String, status: ScenarioStatus, expected: [String], actual: [String]) {
            self.release = release
            self.status = status
            self.expected = expected
            self.actual = actual
        }
    }

    /// The scenario file's new text, given its current `text` and the runs
    /// of it to accept (one per kernel; skipped runs are left out by the
    /// caller). Throws a refusal when:
    /// - a run crashed, timed out or errored: its actual transcript is what
    ///   the kernel printed up to the failure, not a behaviour to expect;
    /// - the file changed since the run: expected.txt is not what the file
    ///   expects today, so the run judged another transcript;
    /// - the file has kernel-specific (`@X.Y:`) lines: one kernel's log
    ///   cannot say which lines the other kernels print;
    /// - the actual transcript stopped before the file's last action, or
    ///   holds lines the format cannot express (blank, `#`, `%`, `@`);
    /// - the kernels' actual transcripts differ: pick one with --kernel.
    /// Returns nil when every run passed: nothing to accept.
    public static func accept(_ text: String, path: String, runs: [Run]) throws(Refusal) -> String? {
        let name = ScenarioParser.testName(forPath: path)
        func refuse(_ reason: String) -> Refusal { Refusal(scenario: name, reason: reason) }
        guard let first = runs.first else { throw refuse("no kernel ran it (skipped or not in the results)") }
        for run in runs where run.status != .pass && run.status != .fail {
            throw refuse("it ended '\(run.status.rawValue)' on \(run.release): only a completed run's transcript (pass or fail) can be accepted; fix the \(run.status.rawValue) first")
        }
        guard runs.contains(where: { $0.status == .fail }) else { return nil }
        guard !text.contains("\r") else { throw refuse("\(path) has CRLF line ends: convert it to LF first") }
        let scenario: Scenario
        do {
            scenario = try ScenarioParser.parse(text, path: path)
        } catch {
            throw refuse("\(path) no longer parses (\(error)): fix it first")
        }
        for run in runs where scenario.transcript(for: run.release) != run.expected {
            throw refuse("\(path) changed since the run on \(run.release) (its transcript differs from expected.txt): run the scenario again, then accept")
        }
        if let variant = scenario.lines.first(where: { $0.kernel != nil }) {
            throw refuse("\(path) has kernel-specific lines (line \(variant.line), '@\(variant.kernel ?? ""):'): one kernel's log cannot say what the others print; edit it by hand")
        }
        for run in runs.dropFirst() where run.actual != first.actual {
            throw refuse("the actual transcripts of \(first.release) and \(run.release) differ: accept one kernel's with --kernel, or edit by hand")
        }
        let actual = first.actual
        if let bad = actual.first(where: { !isWritable($0) }) {
            throw refuse("the actual line '\(bad)' cannot be written as an expected line (blank, or it starts with '#', '%' or '@', or ends in spaces): edit by hand")
        }
        // The actual transcript, cut at its action lines: the lines before
        // the first action, then those after each.
        let actions = scenario.steps.map { "% \($0.command)" }
        var segments: [[String]] = [[]]
        var seen: [String] = []
        for line in actual {
            if line.hasPrefix("% ") {
                seen.append(line)
                segments.append([])
            } else {
                segments[segments.count - 1].append(line)
            }
        }
        guard seen == actions else {
            let index = seen.indices.first { $0 >= actions.count || seen[$0] != actions[$0] } ?? min(seen.count, actions.count)
            let at = index < scenario.steps.count ? "line \(scenario.steps[index].line) ('\(actions[index])')" : "the end"
            throw refuse("the actual transcript has \(seen.count) of the file's \(actions.count) actions and parts from it at \(at): the run stopped early (an unexpected error?), so the later expected lines are unknown")
        }
        let rewritten = rewrite(text, actionLines: Set(scenario.steps.map(\.line)),
                                directiveLine: scenario.requirement?.line, segments: segments)
        // The guard that makes it faithful: the new file must expect
        // exactly what the kernel printed.
        let check: Scenario
        do {
            check = try ScenarioParser.parse(rewritten, path: path)
        } catch {
            throw refuse("the accepted file would not parse (\(error)): edit by hand")
        }
        guard check.transcript(for: first.release) == actual, check.steps.map(\.command) == scenario.steps.map(\.command) else {
            throw refuse("the accepted file would not read back as the actual transcript: edit by hand")
        }
        return rewritten
    }

    /// What `accept(results:…)` did: the files it rewrote and what it refused.
    public struct Outcome: Sendable {
        public var accepted: [String] = []
        public var refusals: [Refusal] = []
    }

    /// Accepts `names` (default: every scenario that failed on a kernel in
    /// `results`) from a results folder into the scenario files of
    /// `scenarios`, kernel `kernel` only when given. A scenario skipped on
    /// a kernel is judged on the others.
    public static func accept(results: String, scenarios: String, names: [String], kernel: String?,
                              log: (String) -> Void) throws -> Outcome {
        let archive = try ResultsArchive.load(results)
        let kernels = archive.kernels.filter { kernel == nil || $0.release == kernel }
        guard !kernels.isEmpty else {
            throw HarnessError(.badInput, "no results for kernel \(kernel ?? "")",
                               remedy: "kernels here: \(archive.kernels.map(\.release).joined(separator: ", "))")
        }
        let failed = archive.scenarioNames.filter { name in
            kernels.contains { $0.document.scenarios.contains { $0.name == name && $0.status == .fail } }
        }
        let wanted = names.isEmpty ? failed : names
        let files = try ScenarioSuite.load(directory: scenarios).scenarios
        var outcome = Outcome()
        for name in wanted {
            guard let file = files.first(where: { $0.name == name }) else {
                outcome.refusals.append(Refusal(scenario: name, reason: "no scenario file for it in \(scenarios)"))
                continue
            }
            var runs: [Run] = []
            for run in kernels {
                guard let entry = run.document.scenarios.first(where: { $0.name == name }), entry.status != .skip else { continue }
                let artifacts = run.artifacts(of: name)
                runs.append(Run(release: run.release, status: entry.status,
                                expected: artifacts?.expected ?? [], actual: artifacts?.actual ?? []))
            }
            do {
                let text = try KernelFile.read(file.path)
                guard let accepted = try accept(text, path: file.path, runs: runs) else {
                    log("\(name): passed on \(runs.map(\.release).joined(separator: ", ")): nothing to accept")
                    continue
                }
                try FileBytes.replace(file.path, with: Array(accepted.utf8))
                outcome.accepted.append(file.path)
                log("\(name): wrote the actual transcript of \(runs.map(\.release).joined(separator: ", ")) into \(file.path); review it with 'git diff \(file.path)'")
            } catch let refusal as Refusal {
                outcome.refusals.append(refusal)
            }
        }
        if wanted.isEmpty { log("nothing to accept: no scenario failed in \(results)") }
        return outcome
    }

    /// A line the parser reads back as the same expected line.
    static func isWritable(_ line: String) -> Bool {
        if line.hasPrefix("% ") { return true }  // an action line
        guard let first = line.first, !line.allSatisfy(\.isWhitespace) else { return false }
        return first != "#" && first != "%" && first != "@" && line.last != " " && line.last != "\t"
    }

    /// `text` with its expected kernel lines replaced by `segments` (the
    /// lines before the first action, then after each action): each
    /// segment goes where that part's first expected line was, else right
    /// after its action (for the lines before the first action: just
    /// before it, below the header); comments and blank lines stay.
    static func rewrite(_ text: String, actionLines: Set<Int>, directiveLine: Int?, segments: [[String]]) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let endsWithNewline = lines.last == ""
        let body = endsWithNewline ? Array(lines.dropLast()) : lines
        var output: [String] = []
        var segment = 0
        var placed = false
        // Where a part with no expected line of its own gets the actual
        // lines: right after its action.
        var afterAction = 0
        func finishPart() {
            if !placed && segment > 0 { output.insert(contentsOf: segments[segment], at: afterAction) }
        }
        for (index, line) in body.enumerated() {
            let number = index + 1
            let trimmed = line.trimmingSpaces
            if actionLines.contains(number) {
                if segment == 0 && !placed { output += segments[0] }
                finishPart()
                output.append(line)
                segment += 1
                placed = false
                afterAction = output.count
            } else if number == directiveLine || trimmed.isEmpty || trimmed.hasPrefix("#") {
                output.append(line)
            } else if !placed {
                // The first expected line of its part stands for all of them.
                output += segments[segment]
                placed = true
            }
        }
        finishPart()
        return output.joined(separator: "\n") + (endsWithNewline ? "\n" : "")
    }
}
