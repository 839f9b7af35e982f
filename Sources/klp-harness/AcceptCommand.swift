import ArgumentParser
import KlpHarness

/// `accept`, a verb of its own rather than `show --accept`: show only
/// reads a results folder (it works on one copied out of CI), while this
/// writes into scenarios/, and a command that writes should say so in its
/// name.
struct AcceptCommand: HarnessSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "accept",
        abstract: "Write failed scenarios' actual transcripts into their scenario files, for review with git diff.",
        discussion: """
            Like testscript's -update and cram's -i: for each scenario named (default: every \
            scenario that failed), the expected kernel lines of its file are replaced with what \
            the kernel printed in the run; comments, blank lines, '% requires' and the action \
            lines stay. Review the change with 'git diff scenarios/' before committing it: an \
            accepted transcript is a new specification.

            Refused, with the reason, and nothing written for that scenario: a run that \
            crashed, timed out or errored; a scenario file changed since the run (its \
            transcript no longer equals the run's expected.txt); a file with kernel-specific \
            '@X.Y:' lines; a run that stopped before the file's last action; kernels whose \
            actual transcripts differ (pick one with --kernel); a line the format cannot \
            express. Exit 2 when anything was refused.

            Examples:
              klp-harness accept
              klp-harness accept results/6.12.117+deb12-amd64 busy-target-module
            """
    )

    @Argument(help: ArgumentHelp("The results root, or one kernel's folder in it.", valueName: "results-dir"))
    var results = "results"

    @Argument(help: ArgumentHelp("Scenario names, e.g. busy-target-module (default: every failed one).", valueName: "scenario"))
    var names: [String] = []

    @Option(help: ArgumentHelp("Directory of the *.scenario files to rewrite.", valueName: "dir"))
    var scenarios = "scenarios"

    @Option(help: ArgumentHelp("Only this kernel release's run.", valueName: "release"))
    var kernel: String?

    func run() throws {
        let outcome = try TranscriptAcceptance.accept(results: results, scenarios: scenarios, names: names, kernel: kernel,
                                                      log: { printError("klp-harness: accept: \($0)") })
        for refusal in outcome.refusals { printError("klp-harness: accept: refused \(refusal)") }
        if !outcome.refusals.isEmpty {
            throw HarnessError(.badInput, "\(outcome.refusals.count) scenario(s) not accepted (above); \(outcome.accepted.count) written",
                               remedy: "each refusal says what to do; edit the scenario by hand where it says so")
        }
    }
}
