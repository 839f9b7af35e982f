import ArgumentParser
import KlpHarness

struct LavaTestCasesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lava-test-cases",
        abstract: "Inside a LAVA test shell: run the suite and record each scenario as a LAVA test case.",
        discussion: """
            The run step of the job 'klp-harness lava-job' writes. It runs the suite as \
            'klp-harness run' does (same options, KTAP on stdout) and, as each scenario \
            finishes, calls 'lava-test-case NAME --result pass|fail|skip --measurement \
            SECONDS --units seconds'. A scenario's KTAP lines (its diagnostics and diff) \
            sit between LAVA's start and end markers for its test case.

            It exits 0 when every scenario has a test case, failing ones included: a \
            failing scenario is a failed test case, not a broken job. Bad input, a runner \
            that stops early or a signal calls 'lava-test-raise', which ends the job \
            incomplete, and exits with the runner's code.

            Example (in a test definition's run steps):
              /klp/klp-harness lava-test-cases --modules /klp/modules --scenarios /klp/scenarios --results /tmp/klp-results --shard 1/2
            """
    )

    @Option(name: .long, help: ArgumentHelp("Directory holding the built .ko files.", valueName: "dir"))
    var modules = "kmod"

    @Option(name: .long, help: ArgumentHelp("Directory of *.scenario files.", valueName: "dir"))
    var scenarios = "scenarios"

    @Option(name: .long, help: ArgumentHelp("Results root; the run writes <dir>/<kernel release>/.", valueName: "dir"))
    var results = "results"

    @Option(name: .long, help: ArgumentHelp("Per-scenario time limit in seconds.", valueName: "seconds"))
    var timeout: Int = 60

    @Option(help: ShardArgument.help)
    var shard: ShardArgument?

    @Option(name: .customLong("lava-test-case"), help: ArgumentHelp("LAVA's lava-test-case helper; the test shell puts it on PATH.", valueName: "path"))
    var lavaTestCase = "lava-test-case"

    @Option(name: .customLong("lava-test-raise"), help: ArgumentHelp("LAVA's lava-test-raise helper.", valueName: "path"))
    var lavaTestRaise = "lava-test-raise"

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() throws {
        let helper: String
        do {
            helper = try Subprocess.resolve(lavaTestCase)
            _ = try Subprocess.resolve(lavaTestRaise)
        } catch {
            fail(with: HarnessError(.badInput, "\(lavaTestCase) or \(lavaTestRaise) is not on PATH: this command runs inside a LAVA test shell",
                                    remedy: "outside LAVA, use 'klp-harness run' with the same options"))
        }
        let planned: [String]
        do {
            planned = try ScenarioSuite.select(directory: scenarios, names: [], shard: shard.map { ($0.index, $0.count) }).scenarios.map(\.name)
        } catch {
            raise("klp-harness: the scenarios cannot be read: \(error)")
            fail(with: error)
        }
        // For the merge of several jobs: which slice of the suite this is.
        if let shard {
            printLine("\(LavaRun.shardPrefix)\(shard.index)/\(shard.count): \(planned.joined(separator: " "))")
        }
        var options = SuiteRunner.Options(modules: modules, scenarios: scenarios, results: results)
        options.timeout = .seconds(timeout)
        options.shard = shard.map { ($0.index, $0.count) }
        var reporter = LavaCaseReporter(planned: planned)
        let perform: ([LavaCaseReporter.Step]) -> Void = { steps in
            for step in steps {
                switch step {
                case .print(let line):
                    printLine(line)
                case .record(let testCase):
                    record(testCase, helper: helper)
                case .attach(let name):
                    attach(name)
                }
            }
        }
        let status: ExitStatus
        do {
            status = try SuiteRunner(options: options) { line in perform(reporter.consume(line)) }.run()
        } catch {
            perform(reporter.finish())
            let problem = (error as? HarnessError)?.problem ?? "\(error)"
            raise("klp-harness run stopped before the scenarios: \(problem)")
            fail(with: error)
        }
        perform(reporter.finish())
        let missing = reporter.unreported
        if !missing.isEmpty {
            raise("klp-harness run exited \(status.rawValue) without a result for \(missing.joined(separator: ", "))")
            throw ExitCode(status == .passed ? ExitStatus.infrastructure.rawValue : status.rawValue)
        }
        printError("klp-harness: \(reporter.reported.count) LAVA test case(s) recorded; runner exit \(status.rawValue)")
    }

    /// A failed scenario's transcripts and kernel log, line by line, for
    /// 'lava-results' to write back into a results folder on the host.
    func attach(_ name: String) {
        let directory = ResultsFolder(root: results, release: SystemState.kernelRelease).scenarioDirectory(name)
        for file in LavaCaseReporter.attachedFiles {
            guard let text = try? KernelFile.read("\(directory)/\(file)") else { continue }
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0) {
                printLine(LavaCaseReporter.fileLine(scenario: name, file: file, text: String(line)))
            }
        }
    }

    /// lava-test-case prints the TESTCASE signal the dispatcher reads.
    func record(_ testCase: LavaTestCase, helper: String) {
        do {
            let status = try LavaHelper.run(helper, testCase.arguments)
            if status != 0 {
                printError("klp-harness: warning: lava-test-case \(testCase.name) exited \(status)")
            }
        } catch {
            printError("klp-harness: warning: lava-test-case \(testCase.name): \(error)")
        }
    }

    /// lava-test-raise: the job ends incomplete with this message.
    func raise(_ message: String) {
        let words = message.split(separator: "\n").joined(separator: " ")
        guard let helper = try? Subprocess.resolve(lavaTestRaise) else { return }
        _ = try? LavaHelper.run(helper, [words])
    }
}

