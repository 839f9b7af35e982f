#if canImport(Glibc)
import Glibc
#endif

/// Runs one scenario against the live kernel: writes each action line into
/// the kernel log, performs the action with libkmod or sysfs, waits as
/// `tools/testing/selftests/livepatch/functions.sh` does (for the transition,
/// for the module's reference count), and collects the log from its start
/// marker to its end.
public final class ScenarioEngine {
    let kmod: KmodContext
    let kmsg: KmsgReader
    let writer: KmsgWriter
    let sysfs: Sysfs
    let catalog: ModuleCatalog
    let cleaner: KernelCleaner
    let timeout: Duration
    /// /proc/sys/kernel/tainted, read at each scenario's start and end.
    let taintPath: String
    /// Processes `spawn` started; ended by `kill` or the clean-up.
    let spawned = SpawnedLoad()
    /// Sysctls the scenario sets, as found before it; the clean-up restores them.
    private var sysctls = SysctlSnapshot()
    private var markerCount = 0

    /// Test modules the clean-up gave up on (a forced patch's module), with
    /// why; later scenarios report them instead of waiting for them again.
    public var unremovable: [String: String] { cleaner.unremovable }

    public init(kmod: KmodContext, kmsg: KmsgReader, writer: KmsgWriter = KmsgWriter(),
                sysfs: Sysfs, catalog: ModuleCatalog, timeout: Duration,
                taintPath: String = "/proc/sys/kernel/tainted") {
        self.kmod = kmod
        self.kmsg = kmsg
        self.writer = writer
        self.sysfs = sysfs
        self.catalog = catalog
        self.cleaner = KernelCleaner(kmod: kmod, sysfs: sysfs, catalog: catalog)
        self.timeout = timeout
        self.taintPath = taintPath
    }

    /// Why a scenario stopped before its last step.
    enum Stop: Error {
        case timedOut(WaitTimeout)
        case interrupted
        case unexpectedFailure(step: Step, message: String)
        case harness(String)
    }

    public func run(_ scenario: Scenario) -> ScenarioResult {
        let clock = ContinuousClock()
        let started = clock.now
        var diagnostics: [String] = []
        let release = SystemState.kernelRelease
        // Before anything touches the kernel: nothing to clean, no log window.
        if let requirement = scenario.requirement, !requirement.isMet(by: release) {
            let reason = requirement.skipReason(release: release)
            return ScenarioResult(scenario: scenario, status: .skipped(reason), actual: [], records: [],
                                  wallTime: clock.now - started, transitions: [], diagnostics: [reason], kernel: release)
        }
        let deadline = Deadline(after: timeout)

        // The kernel must be clean before we start; if an earlier run left
        // something behind, clean it and say so.
        let leftovers = cleanUp()
        if !leftovers.isEmpty {
            diagnostics.append("kernel was not clean before the scenario; clean-up: " + leftovers.joined(separator: "; "))
        }

        // Compared at the end: a flag such as W stays for the rest of the
        // boot, so only what this scenario's window added counts.
        let taintBefore = KernelTrouble.readTaint(taintPath)
        sysctls.save(scenario.steps.compactMap { step in
            if case .sysctl(let key, _) = step.action { key } else { nil }
        })
        var harnessLines: Set<String> = []
        var status = ScenarioResult.Status.passed
        var records: [KmsgRecord] = []
        var transcriptRecordCount = 0
        var remaining: [String] = []
        // Records the ring lost inside this scenario's window count against
        // it; the window opens once its start marker has been read.
        var atBegin = kmsg.sequence
        var transcriptGaps: [KmsgGap] = []
        do {
            _ = try kmsg.readAvailable()
            let begin = try mark("begin \(scenario.name)")
            records = Array(try readLog(through: begin, deadline: deadline).suffix(1))
            atBegin = kmsg.sequence
            do {
                for step in scenario.steps {
                    if Interruption.isRequested { throw Stop.interrupted }
                    try perform(step, deadline: deadline, harnessLines: &harnessLines)
                    // Read the log as it grows, not only at the markers: the
                    // ring keeps 128 KiB on Debian's kernels
                    // (CONFIG_LOG_BUF_SHIFT=17), fewer than 1,400 action lines,
                    // and a long scenario would otherwise overwrite its own
                    // start before the runner reads it.
                    if Self.drainsLogAfterEachStep { records += try kmsg.readAvailable() }
                }
            } catch let stop as Stop {
                status = describe(stop, diagnostics: &diagnostics)
            }
            // The transcript ends here; the clean-up below still runs inside
            // the scenario's log window, so kmsg.txt shows what it did.
            records += try readLog(through: try mark("steps done \(scenario.name)"), deadline: Deadline(after: .seconds(10)))
            transcriptRecordCount = records.count
            transcriptGaps = kmsg.sequence.gaps(since: atBegin)
            let afterwards = cleanUp()
            if !afterwards.isEmpty {
                diagnostics.append("clean-up after the scenario: " + afterwards.joined(separator: "; "))
            }
            remaining = cleaner.remaining()
            records += try readLog(through: try mark("end \(scenario.name)"), deadline: Deadline(after: .seconds(10)))
        } catch {
            status = .error("\(error)")
            transcriptRecordCount = records.count
            transcriptGaps = kmsg.sequence.gaps(since: atBegin)
            let afterwards = cleanUp()
            if !afterwards.isEmpty {
                diagnostics.append("clean-up after the error: " + afterwards.joined(separator: "; "))
            }
            remaining = cleaner.remaining()
        }
        let cleanUpGaps = Array(kmsg.sequence.gaps(since: atBegin).dropFirst(transcriptGaps.count))
        if !cleanUpGaps.isEmpty {
            diagnostics.append("the kernel log lost \(Self.lostCount(cleanUpGaps)) record(s) during the clean-up after the steps "
                + "(\(Self.describe(cleanUpGaps, in: records))): kmsg.txt misses them, the transcript is complete")
        }

        // The catalog's names are the modules' own (.modinfo) names, which
        // is what the kernel prefixes their lines with, whatever the file name.
        let filter = TranscriptFilter(modules: catalog.names)
        let actual = filter.transcript(from: Array(records.prefix(transcriptRecordCount)), harnessLines: harnessLines)
        let variants = scenario.variants(for: release)
        if !variants.isEmpty {
            diagnostics.insert("uses kernel-specific lines for \(release): " + variants.map { "line \($0.line)" }.joined(separator: ", "), at: 0)
        }
        status = Self.judge(status, actual: actual, expected: scenario.transcript(for: release),
                            lost: transcriptGaps, records: records, diagnostics: &diagnostics)
        status = Self.verdict(status, remaining: remaining, diagnostics: &diagnostics)
        var crashExcerpt: [String] = []
        if let trouble = KernelTrouble.find(in: records, taintBefore: taintBefore, taintAfter: KernelTrouble.readTaint(taintPath)) {
            diagnostics.insert(trouble.headline, at: 0)
            crashExcerpt = trouble.excerpt
            if status != .interrupted(signal: Interruption.signalName) { status = .crashed(trouble.headline) }
        }
        var result = ScenarioResult(
            scenario: scenario, status: status, actual: actual, records: records,
            wallTime: clock.now - started, transitions: TransitionSpan.spans(in: records),
            diagnostics: diagnostics, kernel: release)
        result.crashExcerpt = crashExcerpt
        result.lostRecords = Self.lostCount(transcriptGaps)
        return result
    }

    /// Everything a scenario may have changed, undone in an order that lets
    /// the next step work: spawned processes first (a process inside a
    /// patched function keeps a transition from finishing), then sysctls
    /// (a patch cannot be disabled cleanly with ftrace off), then the test
    /// modules. Runs on every path, a signal included.
    private func cleanUp() -> [String] {
        spawned.endAll() + sysctls.restore() + cleaner.clean()
    }

    /// A scenario after which test modules are still loaded (or test patches
    /// still in sysfs) is an error, whatever its transcript said: the kernel
    /// the next scenario gets is not the one its transcript assumes. A
    /// timeout or interruption keeps its status and gains the note.
    static func verdict(_ status: ScenarioResult.Status, remaining: [String], diagnostics: inout [String]) -> ScenarioResult.Status {
        guard !remaining.isEmpty else { return status }
        let note = "clean-up failed: still loaded: " + remaining.joined(separator: ", ")
        diagnostics.append(note)
        switch status {
        case .passed, .failed: return .error(note)
        default: return status
        }
    }

    /// Compares the transcript, unless records of it are missing: then what
    /// the kernel printed is not known, and a diff would blame the kernel for
    /// the ring buffer's wrap. That is an `error` (the run, not the kernel,
    /// went wrong), never `failed`. A status the steps already decided (a
    /// timeout, an action that failed, an interruption) stands, with the note.
    static func judge(_ status: ScenarioResult.Status, actual: [String], expected: [String],
                      lost gaps: [KmsgGap], records: [KmsgRecord], diagnostics: inout [String]) -> ScenarioResult.Status {
        guard !gaps.isEmpty else {
            return status == .passed && actual != expected ? .failed : status
        }
        let headline = "the kernel log lost \(lostCount(gaps)) records during this scenario "
            + "(the ring buffer wrapped before the runner read it): the transcript cannot be judged"
        diagnostics.insert(headline, at: 0)
        diagnostics.append("missing: \(describe(gaps, in: records)); if one action prints more than the ring holds, "
            + "boot with a larger one: klp-harness vm --append log_buf_len=4M")
        return status == .passed ? .error(headline) : status
    }

    static func lostCount(_ gaps: [KmsgGap]) -> UInt64 { gaps.reduce(0) { $0 + $1.count } }

    /// Where each gap is: the kernel's record numbers and the messages read
    /// on either side of it, so a person can find the spot in kmsg.txt.
    static func describe(_ gaps: [KmsgGap], in records: [KmsgRecord]) -> String {
        let messages = Dictionary(records.map { ($0.sequence, $0.message) }, uniquingKeysWith: { first, _ in first })
        return gaps.map { gap in
            var text = gap.range
            if let before = messages[gap.after] { text += " after '\(before)'" }
            if let after = messages[gap.before] { text += " before '\(after)'" }
            return text
        }.joined(separator: "; ")
    }

    /// The harness's own test of a lost log (GuestFailurePathTests) sets
    /// KLP_HARNESS_TEST_NO_KMSG_DRAIN=1 so that a long scenario lets the ring
    /// wrap, as the runner did before it read the log after every step.
    static var drainsLogAfterEachStep: Bool {
        guard let value = getenv("KLP_HARNESS_TEST_NO_KMSG_DRAIN") else { return true }
        return String(cString: value) != "1"
    }

    private func describe(_ stop: Stop, diagnostics: inout [String]) -> ScenarioResult.Status {
        switch stop {
        case .timedOut(let timeout):
            diagnostics.append("stopped: \(timeout)")
            return .timedOut(limit: timeout.limit, condition: timeout.condition)
        case .interrupted:
            diagnostics.append("stopped: \(Interruption.signalName) received")
            return .interrupted(signal: Interruption.signalName)
        case .unexpectedFailure(let step, let message):
            diagnostics.append("stopped at line \(step.line) (\(step.logLine)): \(message); the transcript does not expect this action to fail")
            return .failed
        case .harness(let message):
            diagnostics.append("stopped: \(message)")
            return .error(message)
        }
    }

    private func readLog(through marker: String, deadline: Deadline) throws -> [KmsgRecord] {
        try kmsg.read(until: { $0.message == marker }, deadline: deadline,
                      waitingFor: "the harness's marker '\(marker)' to appear in /dev/kmsg")
    }

    /// Writes a marker into the kernel log and returns its exact text, which
    /// carries the process id and a counter so it can be found unambiguously.
    private func mark(_ what: String) throws -> String {
        markerCount += 1
        let marker = "klp-harness[\(getpid())]: \(what) #\(markerCount)"
        try writer.write(marker)
        return marker
    }

    private func log(_ line: String, into harnessLines: inout Set<String>) throws {
        do {
            try writer.write(line)
        } catch {
            throw Stop.harness("could not write to the kernel log: \(error)")
        }
        harnessLines.insert(line)
    }

    private func perform(_ step: Step, deadline: Deadline, harnessLines: inout Set<String>) throws {
        try log(step.logLine, into: &harnessLines)
        if let failure = try execute(step.action, deadline: deadline, harnessLines: &harnessLines) {
            try log(failure, into: &harnessLines)
            if !step.expectsFailure { throw Stop.unexpectedFailure(step: step, message: failure) }
        }
    }

    /// Performs an action and its waits. Returns the error line for the
    /// transcript when the action itself fails, as insmod/rmmod/sh print it.
    private func execute(_ action: Action, deadline: Deadline, harnessLines: inout Set<String>) throws -> String? {
        switch action {
        case .insert(let file, let parameters, let waitsForTransition):
            do {
                let values = parameters.map(spawned.substitute)
                try kmod.insertModule(atPath: catalog.path(of: file), parameters: values.joined(separator: " "))
            } catch {
                return action.errorLine(error.errno.message, sysfs: sysfs)
            }
            // The module's own name, not the file's: a renamed copy is
            // still waited for, cleaned up and filtered as what it is.
            guard let name = catalog.moduleName(ofFile: file) else {
                throw Stop.harness("\(file) is not in the module catalog")
            }
            guard catalog.livepatchNames.contains(name) else { return nil }
            try stoppingOnWait {
                if waitsForTransition {
                    try verbs.waitForTransition(of: name, deadline: deadline, isCancelled: Self.isCancelled)
                } else {
                    try verbs.waitForStalledTransition(of: name, deadline: deadline, isCancelled: Self.isCancelled)
                }
            }
            return nil
        case .remove(let module):
            let name = ModuleName.normalized(module)
            // An enabled or transitioning patch holds its module for good
            // (klp_enable_patch() takes the reference): waiting would only
            // time out, and the scenario wants to see the refusal.
            if !holdsItself(name) {
                try stoppingOnWait {
                    try verbs.waitForZeroRefcount(of: name, deadline: deadline, isCancelled: Self.isCancelled)
                }
            }
            do {
                try kmod.removeModule(named: name)
            } catch {
                return action.errorLine(error.errno.message, sysfs: sysfs)
            }
            return nil
        case .write(let value, let target, let waitsForTransition):
            do {
                try KernelFile.write(value, to: target.path(in: sysfs))
            } catch {
                return action.errorLine(error.errno.message, sysfs: sysfs)
            }
            guard case .patchEnabled(let patch) = target else { return nil }
            try stoppingOnWait {
                if !waitsForTransition {
                    // `&`: __klp_disable_patch() has started the transition
                    // and tried it once before the write returned; it stays.
                    try verbs.waitForStalledTransition(of: patch, deadline: deadline, isCancelled: Self.isCancelled)
                } else if value == "0" {
                    try verbs.waitForPatchRemoval(patch, context: "after disable", deadline: deadline, isCancelled: Self.isCancelled)
                } else if value == "1" {
                    // Accepted only as klp_reverse_transition() of an
                    // unpatching transition, which does not try to finish:
                    // the kernel's 1 s retry completes it, printing
                    // post-patch callbacks that belong to this action.
                    try verbs.waitForSettledTransition(of: patch, deadline: deadline, isCancelled: Self.isCancelled)
                }
            }
            return nil
        case .waitForTransition(let patch):
            try stoppingOnWait {
                try verbs.waitForSettledTransition(of: patch, deadline: deadline, isCancelled: Self.isCancelled)
            }
            return nil
        case .checkSysfsRights(let file, let rights):
            let path = file.path(in: sysfs)
            do {
                let actual = try FileRights.of(path)
                return actual == rights ? nil : action.errorLine("\(path) has rights \"\(actual)\", expected \"\(rights)\"", sysfs: sysfs)
            } catch {
                return action.errorLine("\(path): \(error.errno.message)", sysfs: sysfs)
            }
        case .checkSysfsValue(let file, let value):
            let path = file.path(in: sysfs)
            do {
                let actual = try KernelFile.readContent(path)
                return actual == value ? nil : action.errorLine("\(path) reads \"\(actual)\", expected \"\(value)\"", sysfs: sysfs)
            } catch {
                return action.errorLine("\(path): \(error.errno.message)", sysfs: sysfs)
            }
        case .grep(let text, let file):
            let lines: [String]
            do {
                lines = try file.lines(containing: text)
            } catch {
                return action.errorLine("\(file.rawValue): \(error.errno.message)", sysfs: sysfs)
            }
            // Written now, between this action's line and the next one's,
            // as the kernel's test does with `grep … > /dev/kmsg`.
            for line in lines { try log(line, into: &harnessLines) }
            return nil
        case .sysctl(let key, let value):
            do {
                try key.write(value)
            } catch {
                return action.errorLine(error.errno.message, sysfs: sysfs)
            }
            return nil
        case .spawn(let count, let program):
            do {
                try spawned.spawn(count.resolved, of: catalog.path(of: program), program: program)
            } catch {
                return action.errorLine("could not start \(program): \(error.errno.message)", sysfs: sysfs)
            }
            return nil
        case .kill(let program):
            try stoppingOnWait { try spawned.kill(program, deadline: deadline) }
            return nil
        case .waitForValue(let file, let value):
            let path = file.path(in: sysfs)
            try stoppingOnWait {
                try deadline.wait(for: "\(path) to read \"\(value)\"", every: .milliseconds(10), isCancelled: Self.isCancelled) {
                    (try? KernelFile.readContent(path)) == value
                }
            }
            return nil
        }
    }

    /// Whether `module` is a livepatch whose patch is enabled or in
    /// transition. A disabled or replaced patch still in sysfs reads 0 in
    /// both: the kernel is about to free it and drop the reference.
    private func holdsItself(_ module: String) -> Bool {
        guard catalog.livepatchNames.contains(module), sysfs.isPatchPresent(module) else { return false }
        return (try? sysfs.isEnabled(module)) == true || (try? sysfs.isInTransition(module)) == true
    }

    /// A scenario's waits give up on a signal; the clean-up's never do.
    private static func isCancelled() -> Bool { Interruption.isRequested }

    private var verbs: LivepatchVerbs { LivepatchVerbs(sysfs: sysfs) }

    /// Runs a wait, turning its timeout or interruption into how the
    /// scenario stops.
    private func stoppingOnWait(_ wait: () throws -> Void) throws {
        do {
            try wait()
        } catch let timeout as WaitTimeout {
            throw Stop.timedOut(timeout)
        } catch is WaitInterrupted {
            throw Stop.interrupted
        }
    }
}
