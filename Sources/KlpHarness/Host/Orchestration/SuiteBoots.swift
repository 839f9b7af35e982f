import Foundation

/// One kernel's suite in the hermetic guest. It boots until every planned
/// scenario has a verdict: when the kernel crashes during a scenario, that
/// scenario fails with the crash, and the guest is booted again for the
/// scenarios after it (as LTP's runner reboots the machine under test and
/// carries on). The host composes one KTAP stream, one results.json and one
/// JUnit file out of the boots, from the ScenarioRecords the guest sent
/// (never from a document of the guest's to decode and rewrite).
struct SuiteBoots {
    var machine: any GuestBooting
    var scenarios: [Scenario]
    var scenarioTimeout: Int
    /// KTAP lines (stdout), when this kernel's stream is the run's output.
    var emit: ((String) -> Void)?
    /// Log each scenario's start and result (several kernels, or no terminal).
    var narrate: Bool

    var release: String { machine.release }
    var folder: ResultsFolder { machine.folder }
    var wallClock: Deadline { machine.wallClock }
    var log: (String) -> Void { machine.log }

    struct Result {
        var status: ExitStatus
        var document: ResultsDocument
        var boots: Int
        /// Each scenario's files, held for the page the host writes.
        var artifacts: [String: ScenarioArtifacts] = [:]
        /// A sentence for the host's summary when the VM itself failed.
        var infrastructureError: String?
    }

    /// What one boot's ttyS1 said.
    struct BootStream {
        var offset: Int
        var started: (name: String, at: ContinuousClock.Instant)?
        var reported: Set<String> = []
        /// Each result line, in order, as `Witnesses` compares them.
        var results: [(name: String, ok: Bool)] = []
        /// Each `# klp-result` record, as the boot numbered it.
        var records: [ScenarioRecord] = []
        var plan: Int?
        var skipReason: String?
        var skipLines: [String] = []
    }

    /// Runs the boots. A file the host cannot write (a full disk under
    /// --results) ends the run as an infrastructure error, and the
    /// documents of the kernel's folder are removed: a results.json or
    /// junit.xml half-written, or left from before the failure, would read
    /// as a result.
    func run() throws -> Result {
        do {
            return try runBoots()
        } catch let error as KernelFileError {
            discardDocuments()
            let problem = "could not store this kernel's results: \(error)"
            emit?("# error: \(problem); this run has no verdict")
            throw HarnessError.infrastructure(
                problem, remedy: "free space under \(folder.resultsRoot) or pass --results a directory with room; results.json, junit.xml and ktap.txt of \(folder.root) were removed so nothing half-written reads as a result")
        }
    }

    /// Removes results.json, junit.xml and ktap.txt (and their `.tmp`
    /// copies) from the kernel's folder; console.log, qemu.log and the
    /// scenario folders stay for whoever looks into the failure.
    func discardDocuments() {
        for path in [folder.jsonPath, folder.junitPath, folder.ktapPath] {
            try? FileBytes.remove(path)
            try? FileBytes.remove(path + ".tmp")
        }
    }

    func runBoots() throws -> Result {
        let clock = ContinuousClock()
        let began = clock.now
        var document = ResultsDocument(kernel: release, planned: scenarios.count)
        var artifacts: [String: ScenarioArtifacts] = [:]
        var ktap: [String] = []
        var remaining = scenarios
        var boots = 0
        var headerEmitted = false

        func say(_ line: String) {
            ktap.append(line)
            emit?(line)
        }

        while !remaining.isEmpty {
            boots += 1
            if boots > 1 {
                log("\(release): booting again (boot \(boots)) for the \(remaining.count) scenario(s) after the crash")
            }
            var stream = BootStream(offset: scenarios.count - remaining.count)
            let watch = ScenarioWatch()
            var announced = false
            let handle: (String) -> Void = { line in
                if !announced {
                    announced = true
                    log("\(release): guest is up (\((clock.now - began).secondsText) after the first boot started)")
                }
                switch KTAPLine.parse(line) {
                case .version:
                    return
                case .plan(let count, let skipReason):
                    stream.plan = count
                    if let skipReason {
                        stream.skipReason = skipReason
                        stream.skipLines = ["KTAP version 1", line]
                    } else if !headerEmitted {
                        headerEmitted = true
                        say("KTAP version 1")
                        say("1..\(scenarios.count)")
                    }
                    return
                // The host prints the totals of all boots at the end.
                case .totals:
                    return
                case .other(let text) where Self.isClosingCount(text):
                    return
                case .diagnostic(let text) where text.hasPrefix("starting "):
                    guard let (number, name) = Self.numbered(text.dropFirst("starting ".count)) else { break }
                    stream.started = (name, clock.now)
                    watch.started()
                    let renumbered = "# starting \(stream.offset + number) \(name)"
                    say(renumbered)
                    if narrate { log("\(release): [\((clock.now - began).secondsText)] starting \(stream.offset + number) \(name) of \(scenarios.count)") }
                    return
                case .record(let record):
                    stream.records.append(record)
                    var renumbered = record
                    renumbered.result.number += stream.offset
                    say(renumbered.ktapLine)
                    return
                case .result(let result):
                    stream.reported.insert(result.name)
                    stream.results.append((result.name, result.ok))
                    watch.finished()
                    let renumbered = Self.renumber(line, by: stream.offset)
                    say(renumbered)
                    if narrate {
                        log("\(release): [\((clock.now - began).secondsText)] \(renumbered.prefix(120))\(result.ok ? "" : "  (see \(folder.root)/\(result.name)/diff.txt)")")
                    }
                    return
                case .diagnostic, .other:
                    break
                }
                say(line)
            }
            let boot = try machine.boot(arguments: GuestImage.suiteArguments(names: remaining.map(\.name), timeout: scenarioTimeout),
                                        files: [], stopWhen: { [responseLimit] in watch.isOverdue(after: responseLimit) }, onLine: handle)
            let vm = boot.vm
            let delivered = try store(boot.received)
            // The record's number is the boot's; the host's counts all boots.
            for record in delivered.records {
                artifacts[record.result.name] = delivered.artifacts(of: record.result.name)
                var entry = record.result
                entry.number += stream.offset
                document.scenarios.append(entry)
            }

            if let guestExit = boot.guestExit {
                let witnesses = Witnesses(planned: remaining.map(\.name), ktapPlan: stream.plan, ktapResults: stream.results,
                                          ktapRecords: stream.records, ktapExit: boot.ktapExit, channelExit: boot.channelExit,
                                          delivered: delivered, received: boot.received)
                if let disagreement = witnesses.disagreement() {
                    let reason = "the guest's witnesses disagree: \(disagreement.reason)"
                    document.complete = false
                    document.infrastructureError = reason
                    // A disagreement about the boot as a whole (the channel,
                    // the exit status) leaves none of its entries a verdict:
                    // JUnit and the totals must not read as a pass.
                    let disputed = disagreement.scenarios.isEmpty ? Set(remaining.map(\.name)) : disagreement.scenarios
                    for index in document.scenarios.indices where disputed.contains(document.scenarios[index].name) {
                        let entry = document.scenarios[index]
                        document.scenarios[index].status = .infrastructure
                        document.scenarios[index].diagnostics.append("the guest reported \(entry.status.rawValue), but \(reason)")
                    }
                    document.addUnreported(remaining.map(\.name), status: .infrastructure, reason: reason)
                    say("# error: \(reason)")
                    try finish(document, ktap: ktap, summarize: headerEmitted, say: say)
                    return Result(status: .infrastructure, document: document, boots: boots, artifacts: artifacts, infrastructureError: reason)
                }
                // The witnesses agree: every scenario of this boot has its
                // entry (ttyS1 may have been lost as a whole, see Witnesses).
                let arrived = Set(delivered.records.map(\.result.name))
                remaining.removeAll { stream.reported.contains($0.name) || arrived.contains($0.name) }
                if !stream.skipLines.isEmpty {
                    stream.skipLines.forEach(say)
                    document.skipReason = stream.skipReason
                }
                document.complete = delivered.completion?.complete ?? false
                let status = ExitStatus(rawValue: guestExit) ?? .failed
                if (status != .passed && status != .failed) || !remaining.isEmpty {
                    // The runner stopped before the scenarios (bad input, a
                    // skip) or was interrupted: its status is the kernel's.
                    document.addUnreported(remaining.map(\.name), status: status == .skipped ? .skip : .error,
                                           reason: "the runner in the guest exited with \(guestExit) before this scenario")
                    try finish(document, ktap: ktap, summarize: status != .skipped, say: say)
                    return Result(status: status, document: document, boots: boots, artifacts: artifacts,
                                  infrastructureError: status == .infrastructure ? "the runner in the guest exited with 3 (its messages are above)" : nil)
                }
                break
            }
            remaining.removeAll { stream.reported.contains($0.name) }
            if Interruption.isRequested {
                say("# interrupted by \(Interruption.signalName) after \(document.scenarios.count) of \(scenarios.count) scenario(s); QEMU was stopped")
                try finish(document, ktap: ktap, summarize: true, say: say)
                return Result(status: Interruption.exitStatus, document: document, boots: boots, artifacts: artifacts)
            }
            let consoleLines = boot.console
            if !vm.timedOut, let started = stream.started, !stream.reported.contains(started.name),
               let crash = KernelCrash.first(in: consoleLines) ?? (vm.stopped ? hang(consoleLines) : nil),
               let scenario = remaining.first(where: { $0.name == started.name }) {
                let number = scenarios.count - remaining.count + 1
                let entry = try recordCrash(crash, of: scenario, number: number, console: consoleLines,
                                            duration: clock.now - started.at)
                document.scenarios.append(entry)
                // What recordCrash wrote to the folder, held for the page.
                artifacts[scenario.name] = ScenarioArtifacts(expectedText: scenario.transcript(for: release).joined(separator: "\n"),
                                                             actualText: "", kmsgText: consoleLines.joined(separator: "\n"))
                say("# kernel crashed: \(crash.headline)")
                for line in crash.excerpt.prefix(12) { say("# \(line)") }
                say("# the VM was rebooted; full excerpt in \(folder.root)/\(scenario.name)/diff.txt")
                // The host's verdict on this scenario travels as data too.
                say(ScenarioRecord(kernel: release, result: entry).ktapLine)
                say("not ok \(number) \(scenario.name)")
                if narrate { log("\(release): [\((clock.now - began).secondsText)] not ok \(number) \(scenario.name): kernel crashed: \(crash.headline)") }
                remaining.removeAll { $0.name == scenario.name }
                continue
            }
            // The VM died or hung outside a scenario, or without a kernel
            // crash to show for it: nothing says anything about the kernel.
            let reason = vm.timedOut
                ? "the VM exceeded its wall-clock limit of \(wallClock.limit.secondsText) and was killed"
                : stream.started == nil && stream.reported.isEmpty && boots == 1
                    ? "the VM did not start the suite (QEMU exited with \(vm.status)\(machine.firstQemuComplaint.map { ": \($0)" } ?? ""))"
                    : "the VM stopped (QEMU exited with \(vm.status)) without the runner's exit status and without a kernel crash in the console"
            document.infrastructureError = reason + "; see console.log and qemu.log"
            document.addUnreported(remaining.map(\.name), status: .infrastructure, reason: reason)
            try finish(document, ktap: ktap, summarize: headerEmitted, say: say)
            return Result(status: .infrastructure, document: document, boots: boots, artifacts: artifacts, infrastructureError: reason)
        }
        // Every boot's witnesses agreed; the boots together must still
        // account for each planned scenario once, in order.
        if document.scenarios.map(\.name) != scenarios.map(\.name) {
            let reason = "the boots' results list \(document.scenarios.map(\.name)) but the host planned \(scenarios.map(\.name))"
            document.infrastructureError = reason
            say("# error: \(reason)")
            try finish(document, ktap: ktap, summarize: headerEmitted, say: say)
            return Result(status: .infrastructure, document: document, boots: boots, artifacts: artifacts, infrastructureError: reason)
        }
        document.complete = true
        try finish(document, ktap: ktap, summarize: true, say: say)
        let failed = document.scenarios.contains { $0.status.needsAttention }
        return Result(status: failed ? .failed : .passed, document: document, boots: boots, artifacts: artifacts)
    }

    /// The runner bounds every wait in a scenario by `--timeout` and each
    /// clean-up wait by 20 s; a guest that reports nothing for this long
    /// after a scenario started is stuck, not slow.
    var responseLimit: Duration { .seconds(scenarioTimeout + 120) }

    /// A guest that stopped answering, with the end of its console.
    func hang(_ console: [String]) -> KernelCrash {
        KernelCrash(headline: "the guest stopped responding: no result \(responseLimit.secondsText) after the scenario started (the kernel hung; the console's last lines follow)",
                    excerpt: Array(console.suffix(40)))
    }

    /// What the results channel delivered of one boot's results.
    struct Delivered {
        /// The records that decoded, in the order they arrived.
        var records: [ScenarioRecord] = []
        /// Record frames that arrived but are not records.
        var undecodable: [String] = []
        var completion: ResultsChannel.Completion?
        /// Whether the completion frame arrived at all (it may not decode).
        var completionArrived = false
        /// The scenario folders' files, by path relative to the kernel's folder.
        var files: [String: [UInt8]] = [:]

        /// A scenario's files as delivered, or nil without its expected.txt.
        func artifacts(of scenario: String) -> ScenarioArtifacts? {
            let text: (String) -> String? = { file in files["\(scenario)/\(file)"].map { String(decoding: $0, as: UTF8.self) } }
            guard let expected = text("expected.txt") else { return nil }
            return ScenarioArtifacts(expectedText: expected, actualText: text("actual.txt"), kmsgText: text("kmsg.txt"))
        }
    }

    /// Writes the files a boot delivered (scenario folders) and returns its
    /// records and completion. Nothing from the guest is written through a
    /// symlink or outside the kernel's results folder, and nothing at its
    /// top: results.json, junit.xml and ktap.txt there are the host's,
    /// built from the records once the witnesses agree.
    func store(_ received: ResultsChannel.Received) throws -> Delivered {
        var delivered = Delivered()
        for path in received.order {
            guard let bytes = received.files[path] else { continue }
            if path == ResultsChannel.completionPath {
                delivered.completionArrived = true
                delivered.completion = try? JSONDecoder().decode(ResultsChannel.Completion.self, from: Data(bytes))
                continue
            }
            if path.hasPrefix(ResultsChannel.recordsFolder + "/") {
                if let record = ScenarioRecord.decode(json: String(decoding: bytes, as: UTF8.self)) {
                    delivered.records.append(record)
                } else {
                    delivered.undecodable.append(path)
                }
                continue
            }
            guard path.contains("/") else { continue }
            delivered.files[path] = bytes
            if let slash = path.lastIndex(of: "/") {
                try FileBytes.makeDirectories("\(folder.root)/\(path[..<slash])")
            }
            try FileBytes.write(bytes, to: "\(folder.root)/\(path)")
        }
        return delivered
    }

    /// The crashed scenario's folder: its expected transcript, the console
    /// from the crash on (as kmsg.txt, same `[seconds]` format), and a
    /// diff.txt that leads with the crash.
    func recordCrash(_ crash: KernelCrash, of scenario: Scenario, number: Int, console: [String],
                     duration: Duration) throws -> ResultsDocument.Entry {
        let directory = folder.scenarioDirectory(scenario.name)
        try FileBytes.makeDirectories(directory)
        let expected = scenario.transcript(for: release)
        let note = "kernel crashed: \(crash.headline)"
        try FileBytes.write((expected.map { $0 + "\n" }).joined(), to: "\(directory)/expected.txt")
        try FileBytes.write("", to: "\(directory)/actual.txt")
        try FileBytes.write(console.map { $0 + "\n" }.joined(), to: "\(directory)/kmsg.txt")
        let diff = ["# \(note)", "# the guest was rebooted for the remaining scenarios; the console from the crash on:"] + crash.excerpt
        try FileBytes.write(diff.map { $0 + "\n" }.joined(), to: "\(directory)/diff.txt")
        let name = scenario.name
        return ResultsDocument.Entry(
            number: number, name: name, status: .crash, durationSeconds: duration.seconds,
            transitionSeconds: 0, transitions: 0,
            diagnostics: [note, "the VM was rebooted to run the remaining scenarios"],
            logExcerpt: crash.excerpt,
            artifacts: ["expected": "\(name)/expected.txt", "actual": "\(name)/actual.txt",
                        "kmsg": "\(name)/kmsg.txt", "diff": "\(name)/diff.txt"])
    }

    /// The closing lines over all boots, and the files for them.
    func finish(_ document: ResultsDocument, ktap: [String], summarize: Bool, say: (String) -> Void) throws {
        var lines = ktap
        if summarize {
            var closing: [String] = []
            KTAPReport { closing.append($0) }.totals(StatusTally(document.scenarios.map(\.status)))
            closing.forEach(say)
            lines += closing
        }
        try folder.write(document)
        try FileBytes.write(lines.map { $0 + "\n" }.joined(), to: folder.ktapPath)
    }

    /// `12 passed, 0 failed`, the runner's own closing line.
    static func isClosingCount(_ line: String) -> Bool {
        let words = line.split(separator: " ")
        return words.count >= 4 && Int(words[0]) != nil && words[1] == "passed," && Int(words[2]) != nil && words[3].hasPrefix("failed")
    }

    /// `3 name` → (3, name).
    static func numbered(_ text: Substring) -> (Int, String)? {
        let parts = text.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, let number = Int(parts[0]) else { return nil }
        return (number, String(parts[1]))
    }

    /// `ok 2 name` → `ok 7 name` for a boot whose scenarios start after 5.
    static func renumber(_ line: String, by offset: Int) -> String {
        let prefix = line.hasPrefix("ok ") ? "ok " : "not ok "
        let rest = line.dropFirst(prefix.count)
        let digits = rest.prefix { $0.isNumber }
        guard offset > 0, let number = Int(digits) else { return line }
        return prefix + String(number + offset) + rest.dropFirst(digits.count)
    }

}

/// When the running scenario started, for the watchdog thread.
final class ScenarioWatch: @unchecked Sendable {
    private let lock = NSLock()
    private var since: ContinuousClock.Instant?

    func started() { lock.withLock { since = .now } }

    func finished() { lock.withLock { since = nil } }

    func isOverdue(after limit: Duration) -> Bool {
        lock.withLock { since.map { ContinuousClock.now - $0 > limit } ?? false }
    }
}

extension Deadline {
    /// What is left of it (zero once passed).
    var remaining: Duration {
        let left = instant - ContinuousClock.now
        return left > .zero ? left : .zero
    }
}

/// Everything one boot said about the scenarios it ran, once its runner
/// exited: the verdict is their agreement, never one of them alone.
///
/// - the runner's exit status, on ttyS1 (`klp-harness-guest: exit N`) and
///   over the results channel (`exit-status`), written by the guest's init;
/// - ttyS1's KTAP: the plan, one `ok`/`not ok` line per scenario and the
///   `# klp-result` record before it;
/// - the results channel: whole frames only, one record per scenario and
///   the runner's completion frame (`complete: true` once the suite
///   finished), see ResultsChannel.
///
/// The rule for a lost port: the results channel carries the results, so it
/// must be whole. ttyS1 may be lost as a whole (a port that said nothing at
/// all, as with KLP_HARNESS_TEST_DROP_KTAP=1): a missing witness is not a
/// lying one, and the verdict then stands on the channel's records and
/// exit status, which must agree. Once ttyS1 said anything (the plan, a
/// result, the exit line), its plan and every result line must be there and
/// agree, and each record it printed must equal the channel's; only its
/// exit line may be missing, as the channel's copy is the one the init
/// writes last (a status that differs is a disagreement).
struct Witnesses {
    /// The scenarios this boot was asked to run, in order.
    var planned: [String]
    var ktapPlan: Int?
    var ktapResults: [(name: String, ok: Bool)]
    /// The records ttyS1 printed.
    var ktapRecords: [ScenarioRecord] = []
    var ktapExit: Int32?
    var channelExit: Int32?
    /// The records and completion the channel delivered.
    var delivered: SuiteBoots.Delivered
    var received: ResultsChannel.Received

    struct Disagreement: Equatable {
        /// What disagreed, for the error line and results.json.
        var reason: String
        /// Scenarios whose entries the guest sent but cannot be believed.
        var scenarios: Set<String> = []
    }

    /// Why this boot's verdict cannot be believed, or nil when every
    /// witness is there (or lost as a whole, for ttyS1) and agrees.
    func disagreement() -> Disagreement? {
        if let header = received.oversizedFrame {
            return Disagreement(reason: "the results channel has a frame longer than \(ResultsChannel.maximumFrameLength >> 20) MiB ('\(header)'): a corrupt header; nothing after it was read")
        }
        if received.truncated {
            return Disagreement(reason: "the results channel ends in the middle of a frame after \(received.length) bytes: its tail was lost (a full disk under --results?)")
        }
        switch (ktapExit, channelExit) {
        case let (ktap?, channel?) where ktap != channel:
            return Disagreement(reason: "the runner's exit status is \(ktap) on ttyS1 but \(channel) over the results channel")
        case let (ktap?, nil):
            return Disagreement(reason: "the results channel has no exit status (ttyS1 says \(ktap)): the channel lost its tail")
        default:
            break
        }
        guard let exit = channelExit, exit == ExitStatus.passed.rawValue || exit == ExitStatus.failed.rawValue else {
            // Bad input, a skip, an interrupted or failing runner: no scenario
            // results to compare; the caller reports the runner's status.
            return nil
        }
        if let path = delivered.undecodable.first {
            return Disagreement(reason: "the guest's \(path) arrived but is not a scenario record (the runner exited with \(exit))")
        }
        guard let completion = delivered.completion else {
            return Disagreement(reason: delivered.completionArrived
                ? "the guest's \(ResultsChannel.completionPath) arrived but is not a completion frame (the runner exited with \(exit))"
                : "the guest's \(ResultsChannel.completionPath) did not arrive over the results channel (the runner exited with \(exit))")
        }
        let entries = delivered.records.map(\.result)
        let listed = entries.map(\.name)
        if listed != planned {
            let missing = planned.filter { !listed.contains($0) }
            let extra = listed.filter { !planned.contains($0) }
            return Disagreement(reason: "the guest's records list \(listed.count) of the \(planned.count) planned scenarios"
                + (missing.isEmpty ? "" : "; missing: \(missing.joined(separator: ", "))")
                + (extra.isEmpty ? "" : "; not planned: \(extra.joined(separator: ", "))")
                + (missing.isEmpty && extra.isEmpty ? " in another order" : ""),
                scenarios: Set(extra))
        }
        if !completion.complete {
            return Disagreement(reason: "the guest's completion frame says the suite did not finish although the runner exited with \(exit)", scenarios: Set(listed))
        }
        let ktapPresent = ktapPlan != nil || !ktapResults.isEmpty || ktapExit != nil
        if ktapPresent {
            if ktapPlan != planned.count {
                return Disagreement(reason: "ttyS1's KTAP plan is \(ktapPlan.map { "1..\($0)" } ?? "missing") but \(planned.count) scenario(s) were planned")
            }
            let reported = ktapResults.map(\.name)
            if reported != planned {
                let missing = planned.filter { !reported.contains($0) }
                return Disagreement(reason: missing.isEmpty
                    ? "ttyS1's KTAP result lines (\(reported.joined(separator: ", "))) do not match the plan"
                    : "ttyS1's KTAP has no result line for \(missing.joined(separator: ", "))", scenarios: Set(missing))
            }
            for (line, entry) in zip(ktapResults, entries) where line.ok == entry.status.needsAttention {
                return Disagreement(reason: "\(entry.name) is '\(line.ok ? "ok" : "not ok")' on ttyS1 but '\(entry.status.rawValue)' in the guest's record",
                                    scenarios: [entry.name])
            }
            for printed in ktapRecords {
                guard let sent = delivered.records.first(where: { $0.result.number == printed.result.number }) else { continue }
                if sent != printed {
                    return Disagreement(reason: "ttyS1's record of \(printed.result.name) differs from the one over the results channel",
                                        scenarios: [printed.result.name, sent.result.name])
                }
            }
        }
        let failing = entries.filter(\.status.needsAttention).map(\.name)
        if exit == ExitStatus.passed.rawValue && !failing.isEmpty {
            return Disagreement(reason: "the runner exited 0 but the guest's records have \(failing.joined(separator: ", ")) failing", scenarios: Set(failing))
        }
        if exit == ExitStatus.failed.rawValue && failing.isEmpty {
            return Disagreement(reason: "the runner exited 1 but every scenario passed in the guest's records\(ktapPresent ? " and on ttyS1" : "")",
                                scenarios: Set(listed))
        }
        return nil
    }
}
