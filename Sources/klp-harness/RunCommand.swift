import ArgumentParser
import KlpHarness

struct RunCommand: HarnessSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the scenarios on the running kernel (as root).",
        discussion: """
            For a test machine already booted with the kernel under test, such as a kernel CI \
            node, or inside the VM that 'klp-harness vm' starts. It needs root, a kernel with \
            CONFIG_LIVEPATCH and CONFIG_DYNAMIC_DEBUG, and kmod/ built for this kernel.

            Before anything is loaded it checks every module the scenarios use: the file \
            exists, its vermagic names this kernel, and livepatches say 'livepatch: Y'. \
            It turns on dynamic debug for kernel/livepatch/* and restores the previous \
            setting on exit. After every scenario, pass or fail, it disables and unloads \
            whatever test module is still loaded.

            KTAP goes to stdout and to <results>/<release>/ktap.txt; each scenario's \
            expected.txt, actual.txt, kmsg.txt (and diff.txt on failure) go to \
            <results>/<release>/<scenario>/.

            Example:
              sudo klp-harness run --modules kmod --scenarios scenarios --results results
              sudo klp-harness run --modules kmod --scenarios scenarios busy-target-module
            """
    )

    @Option(name: .long, help: ArgumentHelp("Directory holding the built .ko files.", valueName: "dir"))
    var modules = "kmod"

    @OptionGroup var suite: SuiteOptions

    @Option(name: .customLong("results-channel"), help: ArgumentHelp("Also send each scenario's result files, as soon as they are written, to this device: the hermetic guest of 'klp-harness vm' passes its serial port /dev/ttyS2, so the host has what finished even if the kernel crashes.", valueName: "device"))
    var resultsChannel: String?

    func run() throws {
        var options = SuiteRunner.Options(modules: modules, scenarios: suite.scenarios, results: suite.results)
        options.names = suite.names
        options.timeout = .seconds(suite.timeout)
        options.shard = suite.slice
        options.resultsChannel = resultsChannel
        let runner = SuiteRunner(options: options) { printLine($0) }
        try runner.run().exitUnlessPassed()
    }
}
