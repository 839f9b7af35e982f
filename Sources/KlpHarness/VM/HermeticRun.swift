import Foundation

/// One kernel's suite in the hermetic guest. It boots until every planned
/// scenario has a verdict: when the kernel crashes during a scenario, that
/// scenario fails with the crash, and the guest is booted again for the
/// scenarios after it (as LTP's runner reboots the machine under test and
/// carries on). The host composes one KTAP stream, one results.json and one
/// JUnit file out of the boots.
struct HermeticRun {
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
        var plan: Int?
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
                if line == "KTAP version 1" { return }
                if line.hasPrefix("1..") {
                    stream.plan = Int(line.dropFirst(3).prefix { $0.isNumber })
                    if line.hasPrefix("1..0 # SKIP") {
                        stream.skipLines = ["KTAP version 1", line]
                    } else if !headerEmitted {
                        headerEmitted = true
                        say("KTAP version 1")
                        say("1..\(scenarios.count)")
                    }
                    return
                }
                // The host prints the totals of all boots at the end.
                if line.hasPrefix("# Totals:") || Self.isClosingCount(line) { return }
                if line.hasPrefix("# starting "), let (number, name) = Self.numbered(line.dropFirst("# starting ".count)) {
                    stream.started = (name, clock.now)
                    watch.started()
                    let renumbered = "# starting \(stream.offset + number) \(name)"
                    say(renumbered)
                    if narrate { log("\(release): [\((clock.now - began).secondsText)] starting \(stream.offset + number) \(name) of \(scenarios.count)") }
                    return
                }
                if let result = KTAPProgress.parseResult(line) {
                    stream.reported.insert(result.name)
                    stream.results.append((result.name, result.ok))
                    watch.finished()
                    let renumbered = Self.renumber(line, by: stream.offset)
                    say(renumbered)
                    if narrate {
                        log("\(release): [\((clock.now - began).secondsText)] \(renumbered.prefix(120))\(result.ok ? "" : "  (see \(folder.root)/\(result.name)/diff.txt)")")
                    }
                    return
                }
                say(line)
            }
            let boot = try machine.boot(arguments: GuestImage.suiteArguments(names: remaining.map(\.name), timeout: scenarioTimeout),
                                        files: [], stopWhen: { [responseLimit] in watch.isOverdue(after: responseLimit) }, onLine: handle)
            let vm = boot.vm
            let (bootDocument, documentArrived) = try store(boot.received)
            for var entry in bootDocument?.scenarios ?? [] {
                entry.number += stream.offset
                document.scenarios.append(entry)
            }

            if let guestExit = boot.guestExit {
                let witnesses = Witnesses(planned: remaining.map(\.name), ktapPlan: stream.plan, ktapResults: stream.results,
                                          ktapExit: boot.ktapExit, channelExit: boot.channelExit, document: bootDocument,
                                          documentArrived: documentArrived, received: boot.received)
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
                    return Result(status: .infrastructure, document: document, boots: boots, infrastructureError: reason)
                }
                // The witnesses agree: every scenario of this boot has its
                // entry (ttyS1 may have been lost as a whole, see Witnesses).
                let arrived = Set(bootDocument?.scenarios.map(\.name) ?? [])
                remaining.removeAll { stream.reported.contains($0.name) || arrived.contains($0.name) }
                if !stream.skipLines.isEmpty {
                    stream.skipLines.forEach(say)
                    document.skipReason = bootDocument?.skipReason
                }
                document.complete = bootDocument?.complete ?? false
                let status = ExitStatus(rawValue: guestExit) ?? .failed
                if (status != .passed && status != .failed) || !remaining.isEmpty {
                    // The runner stopped before the scenarios (bad input, a
                    // skip) or was interrupted: its status is the kernel's.
                    document.addUnreported(remaining.map(\.name), status: status == .skipped ? .skip : .error,
                                           reason: "the runner in the guest exited with \(guestExit) before this scenario")
                    try finish(document, ktap: ktap, summarize: status != .skipped, say: say)
                    return Result(status: status, document: document, boots: boots,
                                  infrastructureError: status == .infrastructure ? "the runner in the guest exited with 3 (its messages are above)" : nil)
                }
                break
            }
            remaining.removeAll { stream.reported.contains($0.name) }
            if Interruption.isRequested {
                say("# interrupted by \(Interruption.signalName) after \(document.scenarios.count) of \(scenarios.count) scenario(s); QEMU was stopped")
                try finish(document, ktap: ktap, summarize: true, say: say)
                return Result(status: Interruption.exitStatus, document: document, boots: boots)
            }
            let consoleLines = boot.console
            if !vm.timedOut, let started = stream.started, !stream.reported.contains(started.name),
               let crash = KernelCrash.first(in: consoleLines) ?? (vm.stopped ? hang(consoleLines) : nil),
               let scenario = remaining.first(where: { $0.name == started.name }) {
                let number = scenarios.count - remaining.count + 1
                let entry = try recordCrash(crash, of: scenario, number: number, console: consoleLines,
                                            duration: clock.now - started.at)
                document.scenarios.append(entry)
                say("# kernel crashed: \(crash.headline)")
                for line in crash.excerpt.prefix(12) { say("# \(line)") }
                say("# the VM was rebooted; full excerpt in \(folder.root)/\(scenario.name)/diff.txt")
                say("not ok \(number) \(scenario.name)")
                if narrate { log("\(release): [\((clock.now - began).secondsText)] not ok \(number) \(scenario.name): kernel crashed: \(crash.headline)") }
                remaining.removeAll { $0.name == scenario.name }
                try folder.write(document)
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
            return Result(status: .infrastructure, document: document, boots: boots, infrastructureError: reason)
        }
        // Every boot's witnesses agreed; the boots together must still
        // account for each planned scenario once, in order.
        if document.scenarios.map(\.name) != scenarios.map(\.name) {
            let reason = "the boots' results list \(document.scenarios.map(\.name)) but the host planned \(scenarios.map(\.name))"
            document.infrastructureError = reason
            say("# error: \(reason)")
            try finish(document, ktap: ktap, summarize: headerEmitted, say: say)
            return Result(status: .infrastructure, document: document, boots: boots, infrastructureError: reason)
        }
        document.complete = true
        try finish(document, ktap: ktap, summarize: true, say: say)
        let failed = document.scenarios.contains { $0.status.needsAttention }
        return Result(status: failed ? .failed : .passed, document: document, boots: boots)
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

    /// Writes the files a boot delivered (scenario folders) and returns its
    /// results.json, and whether one arrived at all (it may not decode).
    /// Nothing from the guest is written through a symlink or outside the
    /// kernel's results folder, and nothing at its top: results.json,
    /// junit.xml and ktap.txt there are the host's, written from the
    /// witnesses once they agree, never the guest's copies.
    func store(_ received: ResultsChannel.Received) throws -> (document: ResultsDocument?, arrived: Bool) {
        var document: ResultsDocument?
        var arrived = false
        for path in received.order {
            guard let bytes = received.files[path] else { continue }
            if path == OpenResultsFolder.jsonName {
                arrived = true
                document = try? JSONDecoder().decode(ResultsDocument.self, from: Data(bytes))
                continue
            }
            guard path.contains("/") else { continue }
            if let slash = path.lastIndex(of: "/") {
                try FileBytes.makeDirectories("\(folder.root)/\(path[..<slash])")
            }
            try FileBytes.write(bytes, to: "\(folder.root)/\(path)")
        }
        return (document, arrived)
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
/// - ttyS1's KTAP: the plan and one `ok`/`not ok` line per scenario;
/// - the results channel: whole frames only, and results.json as the runner
///   wrote it last (`complete: true` once the suite finished).
///
/// The rule for a lost port: the results channel carries the results, so it
/// must be whole. ttyS1 may be lost as a whole (a port that said nothing at
/// all, as with KLP_HARNESS_TEST_DROP_KTAP=1): a missing witness is not a
/// lying one, and the verdict then stands on the channel's results.json and
/// exit status, which must agree. Once ttyS1 said anything (the plan, a
/// result, the exit line), its plan and every result line must be there and
/// agree; only its exit line may be missing, as the channel's copy is the
/// one the init writes last (a status that differs is a disagreement).
struct Witnesses {
    /// The scenarios this boot was asked to run, in order.
    var planned: [String]
    var ktapPlan: Int?
    var ktapResults: [(name: String, ok: Bool)]
    var ktapExit: Int32?
    var channelExit: Int32?
    /// The channel's results.json, if it arrived and decoded.
    var document: ResultsDocument?
    /// Whether results.json arrived at all (it may not have decoded).
    var documentArrived: Bool
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
        guard let document else {
            return Disagreement(reason: documentArrived
                ? "the guest's results.json arrived but is not a results document (the runner exited with \(exit))"
                : "the guest's results.json did not arrive over the results channel (the runner exited with \(exit))")
        }
        let listed = document.scenarios.map(\.name)
        if listed != planned {
            let missing = planned.filter { !listed.contains($0) }
            let extra = listed.filter { !planned.contains($0) }
            return Disagreement(reason: "the guest's results.json lists \(listed.count) of the \(planned.count) planned scenarios"
                + (missing.isEmpty ? "" : "; missing: \(missing.joined(separator: ", "))")
                + (extra.isEmpty ? "" : "; not planned: \(extra.joined(separator: ", "))")
                + (missing.isEmpty && extra.isEmpty ? " in another order" : ""),
                scenarios: Set(extra))
        }
        if !document.complete {
            return Disagreement(reason: "the guest's results.json is not marked complete although the runner exited with \(exit)", scenarios: Set(listed))
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
            for (line, entry) in zip(ktapResults, document.scenarios) where line.ok == entry.status.needsAttention {
                return Disagreement(reason: "\(entry.name) is '\(line.ok ? "ok" : "not ok")' on ttyS1 but '\(entry.status.rawValue)' in the guest's results.json",
                                    scenarios: [entry.name])
            }
        }
        let failing = document.scenarios.filter(\.status.needsAttention).map(\.name)
        if exit == ExitStatus.passed.rawValue && !failing.isEmpty {
            return Disagreement(reason: "the runner exited 0 but the guest's results.json has \(failing.joined(separator: ", ")) failing", scenarios: Set(failing))
        }
        if exit == ExitStatus.failed.rawValue && failing.isEmpty {
            return Disagreement(reason: "the runner exited 1 but every scenario passed in the guest's results.json\(ktapPresent ? " and on ttyS1" : "")",
                                scenarios: Set(listed))
        }
        return nil
    }
}
