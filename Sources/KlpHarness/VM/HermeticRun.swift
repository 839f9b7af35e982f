import Foundation

/// One kernel's suite in the hermetic guest. It boots until every planned
/// scenario has a verdict: when the kernel crashes during a scenario, that
/// scenario fails with the crash, and the guest is booted again for the
/// scenarios after it (as LTP's runner reboots the machine under test and
/// carries on). The host composes one KTAP stream, one results.json and one
/// JUnit file out of the boots.
struct HermeticRun {
    var machine: GuestMachine
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
        var guestExit: Int32?
        var skipLines: [String] = []
        var sawPlan = false
    }

    func run() throws -> Result {
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
                                        stopWhen: { [responseLimit] in watch.isOverdue(after: responseLimit) }, onLine: handle)
            let vm = boot.vm
            stream.guestExit = boot.guestExit
            let bootDocument = try store(boot.received)
            for var entry in bootDocument?.scenarios ?? [] {
                entry.number += stream.offset
                document.scenarios.append(entry)
            }
            remaining.removeAll { stream.reported.contains($0.name) }

            if let guestExit = stream.guestExit {
                if !stream.skipLines.isEmpty {
                    stream.skipLines.forEach(say)
                    document.skipReason = bootDocument?.skipReason
                }
                document.complete = bootDocument?.complete ?? false
                let status = ExitStatus(rawValue: guestExit) ?? .failed
                if status == .badInput || status == .skipped || !remaining.isEmpty {
                    // The runner stopped before the scenarios (bad input, a
                    // skip) or was interrupted: its status is the kernel's.
                    document.addUnreported(remaining.map(\.name), status: status == .skipped ? .skip : .error,
                                           reason: "the runner in the guest exited with \(guestExit) before this scenario")
                    try finish(document, ktap: ktap, summarize: status != .skipped, say: say)
                    return Result(status: status, document: document, boots: boots)
                }
                break
            }
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
    /// results.json. Nothing from the guest is written through a symlink or
    /// outside the kernel's results folder.
    func store(_ received: ResultsChannel.Received) throws -> ResultsDocument? {
        var document: ResultsDocument?
        for path in received.order {
            guard let bytes = received.files[path] else { continue }
            if path == GuestImage.exitStatusFile { continue }
            if path == "results.json" {
                document = try? JSONDecoder().decode(ResultsDocument.self, from: Data(bytes))
                continue
            }
            if let slash = path.lastIndex(of: "/") {
                try FileBytes.makeDirectories("\(folder.root)/\(path[..<slash])")
            }
            try FileBytes.write(bytes, to: "\(folder.root)/\(path)")
        }
        return document
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
