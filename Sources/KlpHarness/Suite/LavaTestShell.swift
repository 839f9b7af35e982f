/// `klp-harness lava-test-cases` inside a LAVA test shell: runs the suite
/// as `klp-harness run` does, with its KTAP on stdout, and records each
/// scenario as a LAVA test case through LAVA's own helpers as soon as it
/// finishes (LavaCaseReporter says what to print and record).
///
/// Every scenario gets a test case, failing ones included: a failing
/// scenario is a failed test case, not a broken job. Bad input, a runner
/// that stops early or a planned scenario without a result calls
/// `lava-test-raise`, which ends the job incomplete, and throws.
public struct LavaTestShell {
    public var suite: SuiteRunner.Options
    /// LAVA's lava-test-case and lava-test-raise, as found on PATH.
    public var lavaTestCase: String
    public var lavaTestRaise: String
    /// The job log (stdout): KTAP, LAVA's markers, the attached files.
    public var output: (String) -> Void
    /// Warnings (stderr).
    public var log: (String) -> Void
    /// The bound on one helper: a few lines of shell, killed past it.
    public var helperLimit: Duration = .seconds(60)

    /// Finds the helpers; outside a test shell they are not on PATH.
    public init(suite: SuiteRunner.Options, lavaTestCase: String, lavaTestRaise: String,
                output: @escaping (String) -> Void, log: @escaping (String) -> Void) throws(HarnessError) {
        do {
            self.lavaTestCase = try Subprocess.resolve(lavaTestCase)
            self.lavaTestRaise = try Subprocess.resolve(lavaTestRaise)
        } catch {
            throw HarnessError.badInput("\(lavaTestCase) or \(lavaTestRaise) is not on PATH: this command runs inside a LAVA test shell",
                                        remedy: "outside LAVA, use 'klp-harness run' with the same options")
        }
        self.suite = suite
        self.output = output
        self.log = log
    }

    /// Runs the suite; `.passed` once every planned scenario has its test case.
    public func run() throws -> ExitStatus {
        let planned: [String]
        do {
            planned = try ScenarioSuite.select(directory: suite.scenarios, names: suite.names, shard: suite.shard).scenarios.map(\.name)
        } catch {
            raise("klp-harness: the scenarios cannot be read: \(error)")
            throw error
        }
        // For the merge of several jobs: which slice of the suite this is.
        if let shard = suite.shard {
            output("\(LavaRun.shardPrefix)\(shard.index)/\(shard.count): \(planned.joined(separator: " "))")
        }
        var reporter = LavaCaseReporter(planned: planned)
        let perform: ([LavaCaseReporter.Step]) -> Void = { steps in
            for step in steps {
                switch step {
                case .print(let line): output(line)
                case .record(let testCase): record(testCase)
                case .attach(let name): attach(name)
                }
            }
        }
        let status: ExitStatus
        do {
            status = try SuiteRunner(options: suite) { line in perform(reporter.consume(line)) }.run()
        } catch {
            perform(reporter.finish())
            let problem = (error as? HarnessError)?.problem ?? "\(error)"
            raise("klp-harness run stopped before the scenarios: \(problem)")
            throw error
        }
        perform(reporter.finish())
        let missing = reporter.unreported
        if !missing.isEmpty {
            let problem = "klp-harness run exited \(status.rawValue) without a result for \(missing.joined(separator: ", "))"
            raise(problem)
            throw HarnessError(status == .passed ? .infrastructure : status, problem)
        }
        log("\(reporter.reported.count) LAVA test case(s) recorded; runner exit \(status.rawValue)")
        return .passed
    }

    /// A failed scenario's transcripts and kernel log, line by line, for
    /// 'lava-results' to write back into a results folder on the host.
    func attach(_ name: String) {
        let directory = ResultsFolder(root: suite.results, release: SystemState.kernelRelease).scenarioDirectory(name)
        for file in LavaCaseReporter.attachedFiles {
            guard let text = try? KernelFile.read("\(directory)/\(file)") else { continue }
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0) {
                output(LavaCaseReporter.fileLine(scenario: name, file: file, text: String(line)))
            }
        }
    }

    /// lava-test-case prints the TESTCASE signal the dispatcher reads.
    func record(_ testCase: LavaTestCase) {
        do {
            let status = try ProcessSpawner(lavaTestCase, testCase.arguments).run(limit: helperLimit)
            if status != 0 { log("warning: lava-test-case \(testCase.name) exited \(status)") }
        } catch {
            log("warning: lava-test-case \(testCase.name): \(error)")
        }
    }

    /// lava-test-raise: the job ends incomplete with this message.
    func raise(_ message: String) {
        let words = message.split(separator: "\n").joined(separator: " ")
        _ = try? ProcessSpawner(lavaTestRaise, [words]).run(limit: helperLimit)
    }
}
