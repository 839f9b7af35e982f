import Testing
@testable import KlpHarness

@Suite("The callback model")
struct CallbackModelTests {
    /// The shipped callbacks scenarios are the model's specification: it must
    /// predict each of their transcripts line for line, with no VM.
    @Test("reproduces every shipped callbacks scenario", arguments: try Repository.callbackScenarioFiles().map(\.lastPathComponent))
    func reproducesShippedScenario(_ file: String) throws {
        let scenario = try Repository.scenario(file)
        let actions = scenario.steps.compactMap { ExploreAction($0.action) }
        #expect(actions.count == scenario.steps.count, "every step is in the model's alphabet")
        let predicted = try #require(CallbackModel().transcript(of: actions))
        #expect(predicted == scenario.transcript)
        if predicted != scenario.transcript {
            print(UnifiedDiff(expected: scenario.transcript, actual: predicted).render().joined(separator: "\n"))
        }
    }

    @Test("ends every shipped callbacks scenario on a clean kernel")
    func shippedScenariosEndClean() throws {
        let model = CallbackModel()
        for url in try Repository.callbackScenarioFiles() {
            let scenario = try Repository.scenario(url.lastPathComponent)
            var state = CallbackModel.State()
            for action in scenario.steps.compactMap({ ExploreAction($0.action) }) {
                _ = model.apply(action, to: &state)
            }
            #expect(state.isClean, "\(url.lastPathComponent)")
            #expect(model.teardown(from: state).isEmpty)
        }
    }
}

@Suite("The callback model's test-only mutation")
struct CallbackModelMutationTests {
    /// The reproduction test can fail: the wrong rule changes the busy
    /// target module scenario, where a module comes mid-transition.
    @Test func wrongRuleMissesTheBusyScenario() throws {
        let scenario = try Repository.scenario("09-busy-target-module.scenario")
        let actions = scenario.steps.compactMap { ExploreAction($0.action) }
        let predicted = CallbackModel(mutation: .postPatchForComingModuleDuringTransition).transcript(of: actions)
        #expect(predicted != scenario.transcript)
        #expect(predicted?.contains("livepatch_callbacks_demo: post_patch_callback: livepatch_callbacks_mod -> [MODULE_STATE_COMING] Full formed, running module_init") == true)
    }
}
