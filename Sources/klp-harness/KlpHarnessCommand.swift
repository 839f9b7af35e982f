import ArgumentParser
import KlpHarness

@main
struct KlpHarnessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "klp-harness",
        abstract: "Build, boot and test Linux livepatch callbacks against expected kernel-log transcripts.",
        discussion: """
            Two ways in:
              klp-harness vm    on a build host: builds kmod/, boots each kernel with QEMU in \
            a hermetic guest that holds this runner, the modules and the scenarios, runs the \
            suite inside it and collects the results (scripts/selftest builds the runner first).
              klp-harness run   on a booted test machine (as root): runs the suite on the \
            running kernel.

            Each scenario is a transcript: '% ' lines are actions, the other lines are what \
            the kernel log must show. Results land in results/<kernel release>/.

            Exit codes: 0 all passed, 1 a scenario failed, timed out, crashed the kernel \
            or could not be cleaned up, 2 bad input, 3 infrastructure error (VM did not \
            boot, died, timed out), 4 skipped (kernel or user cannot run the suite), \
            129/130/141/143 interrupted by SIGHUP/SIGINT/SIGPIPE/SIGTERM. With 'vm --bisect' \
            (for git bisect run), 2, 3 and 4 become 125: git skips that commit.
            """,
        subcommands: [RunCommand.self, VMCommand.self, ShowCommand.self, ReportCommand.self, AcceptCommand.self, BuildModulesCommand.self,
                      ExploreCommand.self, LavaJobCommand.self, LavaTestCasesCommand.self, LavaResultsCommand.self]
    )

    /// ArgumentParser's own main, with every error mapped to an exit code
    /// here, for every subcommand: option errors (an unknown option, a value
    /// that does not parse, a failed validate()) exit 2 like every other bad
    /// input, instead of its 64 (EX_USAGE); what a `HarnessSubcommand`
    /// throws goes through `fail(with:)`, except an `ExitCode` (a run's
    /// verdict); anything else (--help, which ArgumentParser runs as its own
    /// command) is ArgumentParser's to finish.
    static func main() {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            failParsing(error)
        }
        do {
            try command.run()
        } catch let error as ExitCode {
            exit(withError: error)
        } catch where command is any HarnessSubcommand {
            fail(with: error)
        } catch {
            exit(withError: error)
        }
    }

    /// Reports an error of parsing or validating the command line.
    private static func failParsing(_ error: any Error) -> Never {
        guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
        var text = message(for: error)
        if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
        printError("klp-harness: error: \(text)")
        let words = CommandLine.arguments.dropFirst()
        let subcommand = configuration.subcommands.map { $0._commandName }.first { words.first == $0 }
        printError("klp-harness: hint: see 'klp-harness\(subcommand.map { " \($0)" } ?? "") --help' for the options and their values")
        // Under 'git bisect run', a mistyped option is no verdict on the kernel.
        if words.contains("--bisect") {
            printError("klp-harness: --bisect: exit 2 (bad input) is no verdict on this kernel; exiting 125 so that git bisect skips this commit")
            exit(withError: ExitCode(ExitStatus.badInput.bisectCode))
        }
        exit(withError: ExitCode(ExitStatus.badInput.rawValue))
    }
}

/// A subcommand of klp-harness: it throws harness errors (and an `ExitCode`
/// for a verdict) and leaves printing them and the exit code to `main`.
/// A new subcommand conforms and is listed in `subcommands`.
protocol HarnessSubcommand: ParsableCommand {}

/// Prints a harness error the way every subcommand does and exits with its code.
func fail(with error: Error) -> Never {
    KlpHarnessCommand.exit(withError: ExitCode(report(error).rawValue))
}

/// Prints an error as `klp-harness: error:` and its `hint:`, and returns
/// the exit status it stands for (bad input for anything not a HarnessError).
func report(_ error: Error) -> ExitStatus {
    guard let error = error as? HarnessError else {
        printError("klp-harness: error: \(error)")
        return .badInput
    }
    printError("klp-harness: error: \(error.problem)")
    if let remedy = error.remedy { printError("klp-harness: hint: \(remedy)") }
    return error.status
}

extension ExitStatus {
    /// A suite's verdict as the process's exit code: nothing for a pass,
    /// else an `ExitCode` that `main` passes on.
    func exitUnlessPassed() throws {
        if self != .passed { throw ExitCode(rawValue) }
    }
}
