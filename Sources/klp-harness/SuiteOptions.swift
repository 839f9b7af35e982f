import ArgumentParser
import KlpHarness

/// The options of every command that runs the suite (`run`, `lava-test-cases`,
/// and `vm` for the guest): which scenarios, where results go, the
/// per-scenario time limit and a shard. A new such command takes them with
/// `@OptionGroup var suite: SuiteOptions`.
struct SuiteOptions: ParsableArguments {
    @OptionGroup var selection: SuiteSelection

    @Option(help: ArgumentHelp("Results root; a run writes <dir>/<kernel release>/.", valueName: "dir"))
    var results = "results"

    @Argument(help: ArgumentHelp("Scenario names to run (default: all). Names are the file names without the number and extension, e.g. busy-target-module.", valueName: "scenario"))
    var names: [String] = []

    var scenarios: String { selection.scenarios }
    var timeout: Int { selection.timeout }
    var givenTimeout: Int? { selection.givenTimeout }
    var shard: ShardArgument? { selection.shard }
    /// `--shard I/N` as the library takes it.
    var slice: (index: Int, count: Int)? { selection.slice }
}

/// The part of the suite's options that a command which only prepares a
/// run elsewhere takes too (`lava-job` writes them into its job): the
/// scenario files, the per-scenario time limit and a shard.
struct SuiteSelection: ParsableArguments {
    @Option(help: ArgumentHelp("Directory of *.scenario files.", valueName: "dir"))
    var scenarios = "scenarios"

    /// `--timeout` as given: nil leaves the choice to the command, since
    /// `vm --explore` limits each sequence and its default is explore's.
    @Option(name: .customLong("timeout"), help: ArgumentHelp("Per-scenario time limit in seconds (default: \(SuiteRunner.defaultTimeoutSeconds)); a scenario over it is reported as TIMEOUT and cleaned up. With 'vm --explore', the limit per sequence (default: \(Explorer.defaultTimeoutSeconds), as 'klp-harness explore').", valueName: "seconds"))
    var givenTimeout: Int?

    /// The per-scenario limit of a suite run.
    var timeout: Int { givenTimeout ?? SuiteRunner.defaultTimeoutSeconds }

    @Option(help: ShardArgument.help)
    var shard: ShardArgument?

    func validate() throws {
        guard (givenTimeout ?? 1) > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    /// `--shard I/N` as the library takes it.
    var slice: (index: Int, count: Int)? { shard.map { ($0.index, $0.count) } }
}
