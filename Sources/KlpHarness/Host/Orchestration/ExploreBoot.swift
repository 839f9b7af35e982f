import Foundation

/// The hermetic guest of one kernel running `klp-harness explore` instead
/// of the suite. The guest's KTAP (one result per sequence) streams to
/// `emit`; its explore files arrive over the results channel into
/// `<results>/<release>/explore/`.
///
/// `explore(_:)` does what the suite does with a kernel crash (SuiteBoots):
/// the sequence that was running is recorded as `crash` with the console
/// excerpt, the guest boots again and goes on with the next sequence of the
/// same seed (`explore --first`), and the crash is shrunk in rounds, each
/// a boot with a batch of candidate bodies, to a reproducer scenario. The
/// boots make one KTAP stream and one explore.json and coverage.txt.
/// `run(arguments:files:)` is a single boot, for `--compare`, where a crash
/// still ends the run.
struct ExploreBoot {
    /// The guest: QEMU (`GuestMachine`), or recorded boots in the tests.
    var machine: any GuestBooting
    /// KTAP lines (stdout) when this kernel's stream is the run's output.
    var emit: ((String) -> Void)?

    /// Rounds (boots) one crash's shrinking may take. A round costs a boot
    /// (about 10 s on 6.1 under TCG) plus the candidates run before the
    /// crash; halving a 10-action body down to one action takes about 5.
    static let crashShrinkRounds = 10
    /// Crashes shrunk per run; later ones are recorded, not shrunk (the
    /// guest's --shrink-limit default for mismatches).
    static let crashShrinkLimit = 3

    struct Result {
        var status: ExitStatus
        var document: ExploreDocument?
        var infrastructureError: String?
    }

    /// A kernel crash during a boot: the sequence that was running (its
    /// number in that boot's KTAP) and the console, headline first.
    struct Crash {
        var sequence: Int
        var headline: String
        var excerpt: [String]
        /// From the last finished sequence (or the plan) to QEMU's exit.
        var seconds: Double

        /// What explore.json keeps (`ExploreDocument.Sequence.crash`).
        var console: [String] { [headline] + excerpt }

        /// The KTAP diagnostics for the crash, `what` naming when it came
        /// ("during sequence 3"): the headline and the first 20 console lines.
        func diagnostics(_ what: String) -> [String] {
            ["# kernel crashed \(what): \(headline)"] + excerpt.prefix(20).map { "# \($0)" }
        }
    }

    /// What one boot came to.
    struct Boot {
        /// The guest's exit status; `.failed` after a crash.
        var status: ExitStatus
        var document: ExploreDocument?
        var crash: Crash?
        var infrastructureError: String?
        /// The sequences the boot's KTAP finished, with the time since the
        /// previous result line (the host's clock: a crashed guest sends no
        /// explore.json).
        var finished: [(number: Int, ok: Bool, directive: String?, seconds: Double)] = []
        /// Files received over the results channel, relative to the release folder.
        var received: [String] = []
    }

    /// Boots once with `arguments` for the runner (and `files` under /klp).
    /// A crash ends the run, as before crashes were survived: `--compare`
    /// records both kernels in one boot each.
    func run(arguments: [String], files: [(name: String, text: String)] = []) throws -> Result {
        var ktap: [String] = []
        func say(_ line: String) {
            ktap.append(line)
            emit?(line)
        }
        defer { try? FileBytes.write(ktap.map { $0 + "\n" }.joined(), to: machine.folder.ktapPath) }
        let boot = try once(arguments: arguments, files: files, keepFiles: true, onLine: say)
        if let crash = boot.crash {
            let sequence = crash.sequence
            (crash.diagnostics("during sequence \(sequence)")
                + ["not ok \(sequence) sequence-\(sequence)",
                   "# the explorer stopped; rerun with the same --seed to reproduce (\(Explorer.folderName)/crash.txt has the console)"])
                .forEach(say)
            try FileBytes.makeDirectories("\(machine.folder.root)/\(Explorer.folderName)")
            try FileBytes.write((["kernel crashed during sequence \(sequence): \(crash.headline)"] + crash.excerpt).map { $0 + "\n" }.joined(),
                                to: "\(machine.folder.root)/\(Explorer.folderName)/crash.txt")
            return Result(status: .failed, document: boot.document)
        }
        return Result(status: boot.status, document: boot.document, infrastructureError: boot.infrastructureError)
    }

    /// `vm --explore N`: boots until every sequence of the seed has run,
    /// again after each kernel crash, then shrinks the crashes.
    func explore(_ options: KernelMatrix.ExploreOptions) throws -> Result {
        let model = CallbackModel(mutation: options.mutation)
        let folder = machine.folder
        var ktap: [String] = []
        func say(_ line: String) {
            ktap.append(line)
            emit?(line)
        }
        defer { try? FileBytes.write(ktap.map { $0 + "\n" }.joined(), to: folder.ktapPath) }

        var document: ExploreDocument?
        var crashed: [ExploreDocument.Sequence] = []
        var first = 1
        var last = Boot(status: .infrastructure)
        var crashedAfterLast = false
        while true {
            let continuation = first > 1
            let boot = try once(arguments: options.arguments(first: first), files: [], keepFiles: true) { line in
                // One stream: a later boot's plan and closing lines are the
                // whole run's, printed once at the end.
                if continuation && Self.isRunLine(line) { return }
                say(line)
            }
            last = boot
            guard let crash = boot.crash else {
                if let part = boot.document { Self.merge(part, into: &document) }
                break
            }
            Self.merge(reconstructed(boot, first: first, options: options, model: model), into: &document)
            // A later boot numbers its results as the seed does, from `first`.
            let number = boot.finished.last.map { $0.number + 1 } ?? first
            guard number <= options.count else {
                // After the last sequence's verdict (the explorer's own
                // clean-up): no sequence to blame or shrink, still a failure.
                crash.diagnostics("after the last sequence").forEach(say)
                crashedAfterLast = true
                break
            }
            let body = Explorer.generatedBody(seed: options.seed, number: number, model: model, crashInSequence: options.crashInSequence)
            let teardown = ExploreSequence(number: number, body: body, model: model)?.teardown ?? []
            (crash.diagnostics("during sequence \(number)")
                + ["not ok \(number) sequence-\(number)"]).forEach(say)
            let entry = ExploreDocument.Sequence(number: number, body: body, teardown: teardown, status: ScenarioStatus.crash.rawValue,
                                                 seconds: crash.seconds, crash: crash.console)
            crashed.append(entry)
            document?.sequences.append(entry)
            guard number < options.count, !Interruption.isRequested else { break }
            say("# explore: booting again after the crash; going on with sequence \(number + 1)")
            machine.log("\(machine.release): the kernel crashed during sequence \(number); booting again for sequences \(number + 1)-\(options.count)")
            first = number + 1
        }
        // The path without a crash: one boot, as it always was.
        if crashed.isEmpty && !crashedAfterLast && first == 1 {
            return Result(status: last.status, document: document, infrastructureError: last.infrastructureError)
        }
        guard var merged = document else {
            return Result(status: .failed, document: nil, infrastructureError: last.infrastructureError)
        }
        for sequence in crashed.prefix(Self.crashShrinkLimit) where !Interruption.isRequested {
            merged.mismatches.append(try shrinkCrash(sequence, options: options, model: model, say: say))
        }
        for sequence in crashed.dropFirst(Self.crashShrinkLimit) {
            var mismatch = ExploreDocument.Mismatch(sequence: sequence.number, original: sequence.body)
            mismatch.kind = ScenarioStatus.crash.rawValue
            merged.mismatches.append(mismatch)
            say("# crash in sequence \(sequence.number) not shrunk (\(Self.crashShrinkLimit) crashes already were)")
        }
        merged.sequences.sort { $0.number < $1.number }
        merged.planned = options.count
        merged.complete = !Interruption.isRequested && last.infrastructureError == nil && !crashedAfterLast
            && Set(merged.sequences.map(\.number)) == Set(1...options.count)
        try write(merged)
        merged.summary.forEach { say("# \($0)") }
        let tally = StatusTally(merged.sequences.map { ScenarioStatus(rawValue: $0.status) ?? .error })
        KTAPReport(emit: say).totals(tally)
        if Interruption.isRequested { return Result(status: Interruption.exitStatus, document: merged) }
        // A crash is the run's failure; a later boot that did not come up
        // is still an infrastructure error, reported beside it.
        return Result(status: .failed, document: merged, infrastructureError: last.infrastructureError)
    }

    /// KTAP lines that belong to the whole run, not to one boot: the
    /// version and plan, the explorer's summary and the totals.
    static func isRunLine(_ line: String) -> Bool {
        if line.hasPrefix("KTAP version ") || line.hasPrefix("1..") { return true }
        if ["# explore: ", "# transitions: ", "# coverage: ", "# mismatch: ", "# Totals: "].contains(where: line.hasPrefix) { return true }
        // StatusTally.closingCount: "N passed, N failed[, N skipped]".
        return line.range(of: #"^[0-9]+ passed, [0-9]+ failed"#, options: .regularExpression) != nil
    }

    /// One boot with `arguments`. `keepFiles` writes the explore files the
    /// guest sent into the results folder (a shrinking round's are not
    /// the run's).
    func once(arguments: [String], files: [(name: String, text: String)], keepFiles: Bool,
              onLine: (String) -> Void) throws -> Boot {
        let folder = machine.folder
        let clock = ContinuousClock()
        var previous = clock.now
        var finished: [(number: Int, ok: Bool, directive: String?, seconds: Double)] = []
        var sawLine = false
        let boot = try machine.boot(arguments: arguments, files: files, stopWhen: nil) { line in
            sawLine = true
            if let result = KTAPProgress.parseResult(line) {
                let now = clock.now
                finished.append((result.number, result.ok, result.directive, (now - previous).seconds))
                previous = now
            } else if line.hasPrefix("1..") {
                previous = clock.now
            }
            onLine(line)
        }
        var result = Boot(status: .infrastructure, finished: finished)
        for path in boot.received.order {
            guard let bytes = boot.received.files[path], path.hasPrefix("\(Explorer.folderName)/"), !path.contains("..") else { continue }
            if keepFiles {
                try FileBytes.makeDirectories("\(folder.root)/\(Explorer.folderName)")
                try FileBytes.write(bytes, to: "\(folder.root)/\(path)")
            }
            result.received.append(path)
            if path == "\(Explorer.folderName)/explore.json" {
                result.document = try? JSONDecoder().decode(ExploreDocument.self, from: Data(bytes))
            }
        }
        if let guestExit = boot.guestExit {
            result.status = ExitStatus(rawValue: guestExit) ?? .failed
            return result
        }
        if Interruption.isRequested {
            result.status = Interruption.exitStatus
            return result
        }
        if !boot.vm.timedOut, sawLine, let crash = KernelCrash.first(in: boot.console) {
            // A crash is the running sequence's failure, with the console.
            result.status = .failed
            result.crash = Crash(sequence: (finished.last?.number ?? 0) + 1, headline: crash.headline, excerpt: crash.excerpt,
                                 seconds: (clock.now - previous).seconds)
            return result
        }
        result.infrastructureError = boot.vm.timedOut
            ? "the VM exceeded its wall-clock limit of \(machine.wallClock.limit.secondsText) and was killed"
            : "the VM stopped (QEMU exited with \(boot.vm.status)) without the explorer's exit status and without a kernel crash in the console"
        return result
    }

    /// What a boot that crashed did before the crash, which its guest could
    /// not send: each finished sequence's body (regenerated from the seed),
    /// verdict and time from its KTAP, and the rules, branches and pairs the
    /// model applies along it (the model's alone, as the guest counts them).
    /// The kernel's transition counts of those sequences are lost with it.
    func reconstructed(_ boot: Boot, first: Int, options: KernelMatrix.ExploreOptions, model: CallbackModel) -> ExploreDocument {
        var document = ExploreDocument(kernel: machine.release, seed: options.seed, planned: options.count,
                                       mutation: options.mutation?.rawValue, recordOnly: false)
        var generator = SequenceGenerator(seed: options.seed, model: model)
        var generated = 0
        for result in boot.finished {
            var body: [ExploreAction] = []
            while generated < result.number {
                generated += 1
                body = generator.next()
            }
            if result.number == options.crashInSequence { body = Explorer.seedingCrash(in: body, model: model) }
            guard result.number >= first, let sequence = ExploreSequence(number: result.number, body: body, model: model) else { continue }
            let status: ScenarioStatus = result.ok ? .pass
                : result.directive?.hasPrefix("TIMEOUT") == true ? .timeout
                : result.directive?.hasPrefix("ERROR") == true ? .error : .fail
            document.sequences.append(ExploreDocument.Sequence(number: result.number, body: body, teardown: sequence.teardown,
                                                               status: status.rawValue, seconds: result.seconds))
            document.seconds += result.seconds
            let coverage = sequence.coverage(model: model)
            for rule in coverage.rules { document.rules[rule.rawValue, default: 0] += 1 }
            for branch in coverage.branches { document.branches?[branch, default: 0] += 1 }
            document.pairs = Array(Set(document.pairs).union(coverage.pairs)).sorted()
            if status == .fail {
                var mismatch = ExploreDocument.Mismatch(sequence: result.number, original: body)
                let scenario = "\(Explorer.folderName)/seed\(options.seed)-sequence\(result.number).scenario"
                if boot.received.contains(scenario) {
                    mismatch.scenarioFile = scenario
                    mismatch.files = boot.received.filter { $0.hasPrefix("\(Explorer.folderName)/seed\(options.seed)-sequence\(result.number).") }
                }
                document.mismatches.append(mismatch)
            }
        }
        document.seconds += boot.crash?.seconds ?? 0
        return document
    }

    /// Adds one boot's part of the run to the whole.
    static func merge(_ part: ExploreDocument, into document: inout ExploreDocument?) {
        guard var whole = document else {
            document = part
            return
        }
        whole.sequences += part.sequences
        whole.mismatches += part.mismatches
        for (rule, count) in part.rules { whole.rules[rule, default: 0] += count }
        if let branches = part.branches {
            var sum = whole.branches ?? [:]
            for (branch, count) in branches { sum[branch, default: 0] += count }
            whole.branches = sum
        }
        whole.pairs = Array(Set(whole.pairs).union(part.pairs)).sorted()
        whole.transitions += part.transitions
        whole.transitionSeconds += part.transitionSeconds
        whole.seconds += part.seconds
        whole.complete = part.complete
        document = whole
    }

    /// Shrinks a sequence during which the kernel crashed, in rounds: each
    /// boots the guest with a batch of candidate bodies (`explore
    /// --sequences`), and the first candidate during which the kernel
    /// crashes is the round's answer (SequenceShrinker's batch contract).
    /// Writes `explore/seed<S>-sequence<N>.scenario` and `.crash.txt`.
    func shrinkCrash(_ sequence: ExploreDocument.Sequence, options: KernelMatrix.ExploreOptions, model: CallbackModel,
                     say: (String) -> Void) throws -> ExploreDocument.Mismatch {
        let release = machine.release
        let clock = ContinuousClock()
        let started = clock.now
        var console = sequence.crash ?? []
        var rounds = 0
        var budgetReached = false
        machine.log("\(release): shrinking the crash of sequence \(sequence.number) (\(sequence.body.count) action(s)); each round boots the guest with a batch of candidates")
        let (body, tried) = try SequenceShrinker(model: model).shrink(sequence.body) { batch in
            guard !Interruption.isRequested else { return nil }
            guard rounds < Self.crashShrinkRounds else {
                budgetReached = true
                return nil
            }
            rounds += 1
            // --shrink-limit 0: a candidate that mismatches the model is
            // not what this round looks for.
            let boot = try once(arguments: options.arguments(sequencesFile: "sequences.json") + ["--shrink-limit", "0"],
                                files: [("sequences.json", try ExploreBodies.encoded(batch))], keepFiles: false) { _ in }
            if let crash = boot.crash, (1...batch.count).contains(crash.sequence) {
                console = crash.console
                machine.log("\(release): crash shrinking round \(rounds): the kernel crashed in candidate \(crash.sequence) of \(batch.count) (\(batch[crash.sequence - 1].count) action(s))")
                return crash.sequence - 1
            }
            if Interruption.isRequested { return nil }
            guard boot.infrastructureError == nil else {
                throw HarnessError.infrastructure(
                    "round \(rounds) of shrinking the crash in sequence \(sequence.number) got no verdict: \(boot.infrastructureError ?? "")",
                    remedy: "see the console log \(machine.folder.root)/\(ResultsFolder.consoleLogName)")
            }
            machine.log("\(release): crash shrinking round \(rounds): none of \(batch.count) candidate(s) crashed the kernel")
            return nil
        }
        let elapsed = clock.now - started
        let base = "seed\(options.seed)-sequence\(sequence.number)"
        let final = ExploreSequence(number: sequence.number, body: body, model: model)
        let header = [
            "Crashed the kernel (\(release)). Found by klp-harness vm --explore \(options.count) --seed \(options.seed)"
                + (options.crashInSequence.map { " --crash-in-sequence \($0)" } ?? "") + ":",
            "sequence \(sequence.number), shrunk from \(sequence.body.count) to \(body.count) action(s) (plus the teardown)",
            "in \(rounds) round(s), each a boot with a batch of candidates (\(tried) candidate(s) run);",
            "and it still crashes the kernel."
                + (options.crashInSequence == nil ? "" : " The crash was seeded by the harness's own test."),
            "\(base).crash.txt has the console of the smallest reproducer. The lines under",
            "each action are the model's; the kernel does not get past the one that",
            "crashes it. Find the bug before this file goes into scenarios/.",
        ]
        var files: [String] = []
        try FileBytes.makeDirectories("\(machine.folder.root)/\(Explorer.folderName)")
        if let final {
            try FileBytes.write(final.scenarioText(model: model, header: header), to: "\(machine.folder.root)/\(Explorer.folderName)/\(base).scenario")
            files.append("\(Explorer.folderName)/\(base).scenario")
        }
        try FileBytes.write(console.map { $0 + "\n" }.joined(), to: "\(machine.folder.root)/\(Explorer.folderName)/\(base).crash.txt")
        files.append("\(Explorer.folderName)/\(base).crash.txt")
        say("# crash in sequence \(sequence.number), shrunk from \(sequence.body.count) to \(body.count) action(s) in \(rounds) round(s), \(elapsed.secondsText):")
        body.forEach { say("#   % \($0.command())") }
        if budgetReached {
            say("# the crash's shrinking stopped at its budget of \(Self.crashShrinkRounds) rounds (boots); the reproducer may shrink further by hand")
        }
        say("# written in the results folder of this kernel: \(files.joined(separator: ", "))")
        var mismatch = ExploreDocument.Mismatch(sequence: sequence.number, original: sequence.body)
        mismatch.kind = ScenarioStatus.crash.rawValue
        mismatch.shrunk = body
        mismatch.shrinkRuns = tried
        mismatch.shrinkSeconds = elapsed.seconds
        mismatch.scenarioFile = final == nil ? nil : files.first
        mismatch.files = files
        return mismatch
    }

    /// The run's explore.json and coverage.txt, over the last boot's.
    func write(_ document: ExploreDocument) throws {
        let directory = "\(machine.folder.root)/\(Explorer.folderName)"
        try FileBytes.makeDirectories(directory)
        for file in try document.files() {
            try FileBytes.write(file.text, to: "\(directory)/\(file.name)")
        }
    }
}
