import Testing
@testable import KlpHarness

@Suite("ScenarioParser: the transcript format")
struct ScenarioParserTests {
    // MARK: The shipped scenarios

    @Test func allShippedScenariosParse() throws {
        let files = try Repository.scenarioFiles()
        let callbacks = try Repository.callbackScenarioFiles()
        #expect(callbacks.count == 11)
        let scenarios = try files.map { try Repository.scenario($0.lastPathComponent) }
        // The callbacks group's names are the KTAP names of the real run, in the same order.
        let ktapNames = try Fixture.lines("ktap-6.1-pass", "txt")
            .filter { $0.hasPrefix("ok ") }
            .map { String($0.split(separator: " ")[2]) }
        #expect(try callbacks.map { try Repository.scenario($0.lastPathComponent).name } == ktapNames)
        for scenario in scenarios {
            #expect(!scenario.steps.isEmpty)
            #expect(scenario.transcript.allSatisfy { !$0.hasPrefix("#") && !$0.isEmpty })
            #expect(scenario.transcript.filter { $0.hasPrefix("% ") } == scenario.steps.map(\.logLine))
        }
    }

    @Test func busyTargetModule() throws {
        let scenario = try Repository.scenario("09-busy-target-module.scenario")
        #expect(scenario.name == "busy-target-module")
        #expect(scenario.steps.map(\.action) == [
            .insert(file: "livepatch-callbacks-busymod.ko", parameters: ["block_transition=Y"], waitsForTransition: true),
            .insert(file: "livepatch-callbacks-demo.ko", parameters: [], waitsForTransition: false),
            .insert(file: "livepatch-callbacks-mod.ko", parameters: [], waitsForTransition: true),
            .remove(module: "livepatch_callbacks_mod"),
            .write(value: "0", target: .patchEnabled("livepatch_callbacks_demo")),
            .remove(module: "livepatch_callbacks_demo"),
            .remove(module: "livepatch_callbacks_busymod"),
        ])
        #expect(scenario.steps.map(\.line) == [12, 15, 21, 25, 29, 36, 37])
        #expect(scenario.steps[1].command == "insmod livepatch-callbacks-demo.ko &")
        #expect(scenario.steps[1].logLine == "% insmod livepatch-callbacks-demo.ko &")
        #expect(scenario.steps.allSatisfy { !$0.expectsFailure })
        #expect(scenario.moduleNames == ["livepatch_callbacks_busymod", "livepatch_callbacks_demo", "livepatch_callbacks_mod"])
        #expect(scenario.transcript.count == 28)
        #expect(scenario.transcript.first == "% insmod livepatch-callbacks-busymod.ko block_transition=Y")
        #expect(scenario.transcript.last == "livepatch_callbacks_busymod: livepatch_callbacks_busymod_exit")
    }

    @Test func errorLineMarksTheActionBeforeIt() throws {
        let scenario = try Repository.scenario("06-pre-patch-callback-enodev.scenario")
        #expect(scenario.name == "pre-patch-callback-enodev")
        #expect(scenario.steps.map(\.action) == [
            .insert(file: "livepatch-callbacks-mod.ko", parameters: [], waitsForTransition: true),
            .insert(file: "livepatch-callbacks-demo.ko", parameters: ["pre_patch_ret=-19"], waitsForTransition: true),
            .remove(module: "livepatch_callbacks_mod"),
        ])
        #expect(scenario.steps.map(\.expectsFailure) == [false, true, false])
        // The error line is part of the transcript, right before the next action.
        let error = "insmod: ERROR: could not insert module livepatch-callbacks-demo.ko: No such device"
        let index = try #require(scenario.transcript.firstIndex(of: error))
        #expect(scenario.transcript[index + 1] == "% rmmod livepatch_callbacks_mod")
    }

    @Test func moduleParameterWrite() throws {
        let scenario = try Repository.scenario("07-module-coming-pre-patch-callback-enodev.scenario")
        let step = try #require(scenario.steps.first { $0.line == 15 })
        #expect(step.action == .write(value: "-19", target: .moduleParameter(module: "livepatch_callbacks_demo", name: "pre_patch_ret")))
        #expect(step.action.moduleNames == ["livepatch_callbacks_demo"])
        #expect(scenario.steps.map(\.expectsFailure) == [false, false, true, false, false])
        #expect(scenario.steps[2].action == .insert(file: "livepatch-callbacks-mod.ko", parameters: [], waitsForTransition: true))
    }

    @Test func atomicReplaceParameter() throws {
        let scenario = try Repository.scenario("11-atomic-replace.scenario")
        #expect(scenario.steps.map(\.action).contains(
            .insert(file: "livepatch-callbacks-demo2.ko", parameters: ["replace=1"], waitsForTransition: true)))
        #expect(scenario.steps.map(\.action).contains(.write(value: "0", target: .patchEnabled("livepatch_callbacks_demo2"))))
    }

    @Test("test names drop the order prefix and the extension", arguments: [
        ("09-busy-target-module.scenario", "busy-target-module"),
        ("/work/main/scenarios/01-target-module-before-livepatch.scenario", "target-module-before-livepatch"),
        ("scenarios/11-atomic-replace.scenario", "atomic-replace"),
        ("plain.scenario", "plain"),
        ("2024.scenario", "2024"),
        ("7up.scenario", "7up"),
    ])
    func testNames(path: String, name: String) {
        #expect(ScenarioParser.testName(forPath: path) == name)
    }

    @Test func commentsAndBlankLinesAreSkippedButCounted() throws {
        let text = [
            "# The summary.",
            "# More comment.",
            "",
            "% insmod a.ko x=1 y=two &",
            "livepatch: one\t  ",
            "   \t",
            "# A comment between lines.",
            "% echo 1 > /sys/kernel/livepatch/a/enabled",
        ].joined(separator: "\n")
        let scenario = try ScenarioParser.parse(text, path: "x/05-in-memory.scenario")
        #expect(scenario.name == "in-memory")
        #expect(scenario.path == "x/05-in-memory.scenario")
        #expect(scenario.steps.map(\.line) == [4, 8])
        #expect(scenario.steps[0].action == .insert(file: "a.ko", parameters: ["x=1", "y=two"], waitsForTransition: false))
        #expect(scenario.transcript == [
            "% insmod a.ko x=1 y=two &",
            "livepatch: one",
            "% echo 1 > /sys/kernel/livepatch/a/enabled",
        ])
    }

    @Test func windowsLineEndingsParseLikeUnixOnes() throws {
        let unix = "# Summary.\n% insmod a.ko\nlivepatch: one\n% rmmod a\n"
        let windows = unix.replacing("\n", with: "\r\n")
        let expected = try ScenarioParser.parse(unix, path: "01-crlf.scenario")
        #expect(expected.steps.count == 2)
        // "\r\n" is one Character in Swift: splitting on "\n" alone never splits it.
        let parsed = try ScenarioParser.parse(windows, path: "01-crlf.scenario")
        #expect(parsed == expected)
    }

    // MARK: Malformed scenarios

    func parseError(_ text: String) throws -> ScenarioParseError {
        let error = #expect(throws: ScenarioParseError.self) {
            try ScenarioParser.parse(text, path: "scenarios/99-broken.scenario")
        }
        return try #require(error)
    }

    @Test func unknownAction() throws {
        let error = try parseError("# Summary.\n% insmod a.ko\n\n% modprobe livepatch-callbacks-demo\n")
        #expect(error.path == "scenarios/99-broken.scenario")
        #expect(error.line == 4)
        #expect(error.message == "unknown action 'modprobe': the actions are insmod, rmmod, echo, wait_for_transition, check_sysfs_rights, check_sysfs_value, grep, sysctl, spawn, kill and wait_for_value")
        #expect(error.description.hasPrefix("scenarios/99-broken.scenario:4: unknown action 'modprobe'"))
    }

    @Test("a sysfs file outside the two allowed kinds is rejected", arguments: [
        "/sys/kernel/debug/livepatch/enabled",
        "/sys/kernel/livepatch/livepatch_callbacks_demo/transition",
        "/sys/kernel/livepatch/livepatch_callbacks_demo/enabled/x",
        "/sys/module/livepatch_callbacks_demo/parameters",
        "/sys/module/../kernel/parameters/x",
        "/sys/module/livepatch_callbacks_demo/holders/x",
        "/proc/sys/kernel/tainted",
        "sys/kernel/livepatch/livepatch_callbacks_demo/enabled",
    ])
    func badSysfsPath(path: String) throws {
        let error = try parseError("% insmod a.ko\n% echo 0 > \(path)\n")
        #expect(error.line == 2)
        #expect(error.message.hasPrefix("'\(path)' is not a sysfs file a scenario may write"))
        #expect(error.message.contains("/sys/kernel/livepatch/PATCH/enabled"))
        #expect(error.message.contains("/sys/module/MODULE/parameters/NAME"))
    }

    /// `&` after a write to a patch's enabled: the disable leaves its
    /// transition stalled, as `insmod … &` does; the line is logged as
    /// written, and an explore disable renders the same way.
    @Test func disableThatLeavesTheTransitionStalled() throws {
        let scenario = try ScenarioParser.parse("""
            % echo 0 > /sys/kernel/livepatch/livepatch_callbacks_demo/enabled &
            % echo 0 > /sys/kernel/livepatch/livepatch_callbacks_demo/enabled
            % echo 1 > /sys/kernel/livepatch/livepatch_callbacks_demo/enabled

            """, path: "t.scenario")
        #expect(scenario.steps.map(\.action) == [
            .write(value: "0", target: .patchEnabled("livepatch_callbacks_demo"), waitsForTransition: false),
            .write(value: "0", target: .patchEnabled("livepatch_callbacks_demo"), waitsForTransition: true),
            .write(value: "1", target: .patchEnabled("livepatch_callbacks_demo")),
        ])
        #expect(scenario.steps[0].logLine == "% echo 0 > /sys/kernel/livepatch/livepatch_callbacks_demo/enabled &")
        #expect(scenario.steps[0].action.moduleNames == ["livepatch_callbacks_demo"])
        #expect(ExploreAction.disable(.demo).command(stalls: true) == scenario.steps[0].command)
        #expect(ExploreAction.disable(.demo).command() == scenario.steps[1].command)
        #expect(ExploreAction(scenario.steps[0].action) == .disable(.demo))
    }

    @Test func ampersandOnlyAfterAPatchsEnabled() throws {
        let error = try parseError("% echo N > /sys/module/livepatch_callbacks_busymod/parameters/block_patched &\n")
        #expect(error.line == 1)
        #expect(error.message.hasPrefix("'&' follows only a write to /sys/kernel/livepatch/PATCH/enabled"))
    }

    @Test func echoWithoutRedirection() throws {
        let error = try parseError("% echo 0 /sys/kernel/livepatch/a/enabled\n")
        #expect(error.line == 1)
        #expect(error.message == "echo takes 'echo VALUE > /sys/…', found 'echo 0 /sys/kernel/livepatch/a/enabled'")
    }

    @Test("a module parameter that is not name=value is rejected", arguments: [
        "pre_patch_ret", "=-19", "pre patch=1", "pre.patch=1",
    ])
    func badParameter(parameter: String) throws {
        let error = try parseError("# Summary.\n% insmod livepatch-callbacks-demo.ko \(parameter)\n")
        #expect(error.line == 2)
        let word = parameter.split(separator: " ").first.map(String.init) ?? parameter
        #expect(error.message == "module parameter '\(word)' does not parse: write name=value, e.g. pre_patch_ret=-19")
    }

    @Test("insmod takes a bare .ko file name", arguments: ["livepatch-callbacks-demo", "/tmp/x.ko", "../x.ko"])
    func badModuleFile(file: String) throws {
        let error = try parseError("% insmod \(file)\n")
        #expect(error.line == 1)
        #expect(error.message.hasPrefix("insmod takes a module file name ending in .ko, found '\(file)'"))
    }

    @Test("rmmod takes exactly one module name", arguments: ["% rmmod", "% rmmod a b", "% rmmod a.ko"])
    func badRmmod(line: String) throws {
        let error = try parseError("\(line)\n")
        #expect(error.line == 1)
        #expect(error.message.hasPrefix("rmmod takes one module name"))
    }

    @Test("an action line needs '% ' (percent, space)", arguments: ["%insmod a.ko", "%", "%\tinsmod a.ko"])
    func percentWithoutSpace(line: String) throws {
        let error = try parseError("# Summary.\n% insmod a.ko\nlivepatch: x\n\(line)\n")
        #expect(error.line == 4)
        #expect(error.message == "an action line starts with '% ' (percent, space)")
    }

    @Test func errorLineAfterTheWrongCommand() throws {
        let error = try parseError("""
            % insmod a.ko
            % rmmod a
            insmod: ERROR: could not insert module a.ko: No such device
            """)
        #expect(error.line == 3)
        #expect(error.message == "'insmod: ERROR' follows a 'rmmod' action (line 2)")
    }

    @Test func errorLineBeforeAnyAction() throws {
        let error = try parseError("# Summary.\nrmmod: ERROR: could not remove module a: Device or resource busy\n% insmod a.ko\n")
        #expect(error.line == 2)
        #expect(error.message == "an error line must follow the action it belongs to")
    }

    @Test("a file without actions is rejected", arguments: [
        "",
        "\n\n",
        "# Only a comment.\n",
        "# A summary.\nlivepatch: enabling patch 'livepatch_callbacks_demo'\n",
    ])
    func noActions(text: String) throws {
        let error = try parseError(text)
        #expect(error.line == 1)
        #expect(error.message == "no action lines ('% insmod …', '% rmmod …', '% echo … > /sys/…', '% wait_for_transition …')")
    }
}

@Suite("wait_for_transition")
struct WaitForTransitionParsingTests {
    @Test func parsesOnePatchName() throws {
        let scenario = try ScenarioParser.parse("% wait_for_transition livepatch_callbacks_demo\n", path: "x.scenario")
        #expect(scenario.steps.map(\.action) == [.waitForTransition(patch: "livepatch_callbacks_demo")])
        #expect(scenario.moduleNames == ["livepatch_callbacks_demo"])
    }

    @Test(arguments: ["wait_for_transition", "wait_for_transition a b", "wait_for_transition ../x"])
    func rejectsAnythingElse(_ line: String) {
        #expect(throws: ScenarioParseError.self) { try ScenarioParser.parse("% \(line)\n", path: "x.scenario") }
    }
}
