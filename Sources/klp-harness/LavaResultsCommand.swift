import ArgumentParser
import KlpHarness

struct LavaResultsCommand: HarnessSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "lava-results",
        abstract: "Read the suite's results back from LAVA dispatcher logs; merge several jobs into results.json, JUnit and HTML.",
        discussion: """
            Each log is what 'lava-run' printed on stdout, or a job's log from a LAVA server \
            ('lavacli jobs logs --raw JOB'). For each job it prints one line per scenario \
            (LAVA's result and measurement) and how the job ended.

            With --results DIR it also writes what 'klp-harness vm' writes, from all the \
            logs together (for example the jobs of --shard 1/2 and 2/2): \
            DIR/<release>/results.json, DIR/junit.xml and DIR/index.html. They hold each \
            scenario's status, wall time, transition time, diagnostics and diff, as the \
            console carried them; the transcripts and kernel logs stay in the guest.

            Exit code: 0 when every job is complete and every scenario passed (or was \
            skipped); 1 when a scenario failed; 3 when a job is incomplete or recorded no \
            scenario; 2 when a log cannot be read or holds no LAVA records.

            Examples:
              klp-harness lava-results dispatcher.log
              klp-harness lava-results shard-1.log shard-2.log --results results-lava
            """
    )

    @Argument(help: ArgumentHelp("Dispatcher logs, one per job.", valueName: "log"))
    var logs: [String]

    @Option(help: ArgumentHelp("Write results.json per kernel, junit.xml and index.html here.", valueName: "dir"))
    var results: String?

    func validate() throws {
        guard !logs.isEmpty else { throw ValidationError("name at least one dispatcher log") }
    }

    func run() throws {
        var runs: [LavaRun] = []
        var statuses: [ExitStatus] = []
        for path in logs {
            let text: String
            do {
                text = try KernelFile.read(path)
            } catch {
                throw HarnessError(.badInput, "cannot read \(path): \(error)")
            }
            let log = LavaLog.parse(text)
            guard !log.records.isEmpty else {
                throw HarnessError(.badInput, "\(path) holds no LAVA dispatcher records (lines like {\"dt\": …, \"lvl\": …, \"msg\": …})",
                                   remedy: "pass what lava-run printed on stdout, or 'lavacli jobs logs --raw JOB'")
            }
            let run = LavaRun(log: log)
            runs.append(run)
            statuses.append(report(run, path: path))
        }
        if let results {
            try write(runs, to: results)
        }
        try ExitStatus.overall(statuses).exitUnlessPassed()
    }

    /// Prints one job's scenarios and returns its verdict.
    func report(_ run: LavaRun, path: String) -> ExitStatus {
        let shard = run.shard.map { ", shard \($0.index)/\($0.count)" } ?? ""
        printLine("\(path): kernel \(run.release ?? "unknown")\(shard)")
        let width = max(30, run.scenarios.map(\.name.count).max() ?? 0)
        for scenario in run.scenarios {
            let result = scenario.lavaResult ?? (scenario.finished ? "none" : "unfinished")
            let seconds = scenario.seconds.map { String(format: "%8.3f s", $0) } ?? ""
            printLine("  \(result.padding(toLength: 11, withPad: " ", startingAt: 0))\(scenario.name.padding(toLength: width + 2, withPad: " ", startingAt: 0))\(seconds)")
        }
        for other in run.otherCases {
            printLine("  \(other.result.padding(toLength: 11, withPad: " ", startingAt: 0))\(other.name) (test case of \(other.definition), not a scenario)")
        }
        let failed = run.scenarios.filter { $0.lavaResult != "pass" && $0.lavaResult != "skip" }
        let passed = run.scenarios.filter { $0.lavaResult == "pass" }.count
        let skipped = run.scenarios.filter { $0.lavaResult == "skip" }.count
        let jobText: String
        switch run.job {
        case .none: jobText = "no final job result (log cut off?)"
        case .some(let job): jobText = job.complete ? "job complete" : "job incomplete: \(job.error ?? "")"
        }
        printLine("  \(run.scenarios.count) scenario test case(s): \(passed) pass, \(failed.count) fail, \(skipped) skip; \(jobText)")
        if run.unreadableLines > 0 {
            printError("klp-harness: warning: \(path): \(run.unreadableLines) line(s) that are not LAVA records were skipped")
        }
        if !failed.isEmpty { return .failed }
        if run.job?.complete != true || run.scenarios.isEmpty { return .infrastructure }
        return .passed
    }

    func write(_ runs: [LavaRun], to root: String) throws {
        try FileBytes.makeDirectories(root)
        let documents = try LavaMerge.write(runs, to: root)
        let count = documents.reduce(0) { $0 + $1.scenarios.count }
        printError("klp-harness: merged \(runs.count) job(s), \(count) scenario(s), into \(root)/: results.json per kernel, junit.xml, index.html")
    }

}
