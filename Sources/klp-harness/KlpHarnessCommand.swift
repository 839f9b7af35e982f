import ArgumentParser
import KlpHarness

@main
struct KlpHarnessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "klp-harness",
        abstract: "Build, boot and test Linux livepatch callbacks against expected kernel-log transcripts.",
        discussion: """
            Two ways in:
              klp-harness vm    on a build host: builds kmod/ and this runner, boots a kernel \
            with virtme-ng, runs the suite inside it and copies the results back.
              klp-harness run   on a booted test machine (as root): runs the suite on the \
            running kernel.

            Each scenario is a transcript: '% ' lines are actions, the other lines are what \
            the kernel log must show. Results land in results/<kernel release>/.

            Exit codes: 0 all passed, 1 a scenario failed, timed out, crashed the kernel \
            or could not be cleaned up, 2 bad input, 3 infrastructure error (VM did not \
            boot, died, timed out), 4 skipped (kernel or user cannot run the suite), \
            129/130/141/143 interrupted by SIGHUP/SIGINT/SIGPIPE/SIGTERM.
            """,
        subcommands: [RunCommand.self, VMCommand.self, ShowCommand.self, ReportCommand.self,
                      LavaJobCommand.self, LavaTestCasesCommand.self, LavaResultsCommand.self]
    )

    /// ArgumentParser's own main, except that option errors (an unknown
    /// option, a value that does not parse, a failed validate()) exit 2 like
    /// every other bad input, instead of its 64 (EX_USAGE), for every
    /// subcommand in this one place.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            var text = message(for: error)
            if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
            printError("klp-harness: error: \(text)")
            let words = CommandLine.arguments.dropFirst()
            let subcommand = configuration.subcommands.map { $0._commandName }.first { words.first == $0 }
            printError("klp-harness: hint: see 'klp-harness\(subcommand.map { " \($0)" } ?? "") --help' for the options and their values")
            exit(withError: ExitCode(ExitStatus.badInput.rawValue))
        }
    }
}

/// Prints a harness error the way every subcommand does and exits with its code.
func fail(with error: Error) -> Never {
    if let error = error as? HarnessError {
        printError("klp-harness: error: \(error.problem)")
        if let remedy = error.remedy { printError("klp-harness: hint: \(remedy)") }
        KlpHarnessCommand.exit(withError: ExitCode(error.status.rawValue))
    }
    printError("klp-harness: error: \(error)")
    KlpHarnessCommand.exit(withError: ExitCode(ExitStatus.badInput.rawValue))
}
