import Testing
@testable import KlpHarness
@testable import klp_harness

/// Options as the command line parses them: defaults that two commands
/// share must agree.
@Suite("Command line: shared defaults")
struct CommandLineTests {
    /// `vm --explore` once passed the suite's 60 s to the guest's explorer,
    /// which on its own defaults to 20 s per sequence.
    @Test func vmExploreUsesExploresDefaultTimeout() throws {
        let vm = try VMCommand.parse(["--explore", "5"])
        let explore = try ExploreCommand.parse([])
        #expect(vm.exploreOptions?.timeout == explore.timeout)
        #expect(explore.timeout == Explorer.defaultTimeoutSeconds)
    }

    @Test func vmExploreTakesAGivenTimeout() throws {
        let vm = try VMCommand.parse(["--explore", "5", "--timeout", "7"])
        #expect(vm.exploreOptions?.timeout == 7)
    }

    @Test func theSuiteKeepsItsOwnDefault() throws {
        let run = try RunCommand.parse([])
        #expect(run.suite.timeout == SuiteRunner.defaultTimeoutSeconds)
        let vm = try VMCommand.parse([])
        #expect(vm.exploreOptions == nil)
        #expect(KernelMatrix.Options(machine: vm.machine, suite: vm.suite).scenarioTimeout == SuiteRunner.defaultTimeoutSeconds)
    }

    /// --compare needs two kernels or more; none means 6.1 and 6.12.
    @Test func compareWantsTwoKernelsOrMore() throws {
        #expect(throws: (any Error).self) { try VMCommand.parse(["--explore", "5", "--compare", "--kernel", "6.1"]) }
        #expect(throws: (any Error).self) { try VMCommand.parse(["--explore", "5", "--compare", "--kernel-tree", "/src/linux"]) }
        _ = try VMCommand.parse(["--explore", "5", "--compare"])
        _ = try VMCommand.parse(["--explore", "5", "--compare", "--kernel", "all"])
        let three = try VMCommand.parse(["--explore", "5", "--compare", "--kernel", "6.1", "--kernel", "6.12", "--kernel", "6.1-cloud"])
        #expect(three.machine.kernel == ["6.1", "6.12", "6.1-cloud"])
        _ = try VMCommand.parse(["--explore", "5", "--compare", "--kernel", "6.1", "--kernel-tree", "/src/linux"])
    }
}
