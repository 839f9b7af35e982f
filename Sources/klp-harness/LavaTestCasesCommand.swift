import ArgumentParser
import KlpHarness

struct LavaTestCasesCommand: HarnessSubcommand {
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

    @OptionGroup var suite: SuiteOptions

    @Option(name: .customLong("lava-test-case"), help: ArgumentHelp("LAVA's lava-test-case helper; the test shell puts it on PATH.", valueName: "path"))
    var lavaTestCase = "lava-test-case"

    @Option(name: .customLong("lava-test-raise"), help: ArgumentHelp("LAVA's lava-test-raise helper.", valueName: "path"))
    var lavaTestRaise = "lava-test-raise"

    func run() throws {
        var options = SuiteRunner.Options(modules: modules, scenarios: suite.scenarios, results: suite.results)
        options.names = suite.names
        options.timeout = .seconds(suite.timeout)
        options.shard = suite.slice
        let shell = try LavaTestShell(suite: options, lavaTestCase: lavaTestCase, lavaTestRaise: lavaTestRaise,
                                      output: { printLine($0) }, log: { printError("klp-harness: \($0)") })
        try shell.run().exitUnlessPassed()
    }
}
