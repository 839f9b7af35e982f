import Testing
@testable import KlpHarness

@Suite("--compare: the first divergence, shrunk")
struct CompareShrinkTests {
    /// Kernel A prints what the model says; kernel B never prints a
    /// post-unpatch line for a module object. Each "boot" records a batch.
    @Test func shrinksToTheActionsThatDiverge() throws {
        let model = CallbackModel()
        func transcripts(_ body: [ExploreAction]) -> ([String], [String]) {
            let lines = ExploreSequence(number: 1, body: body, model: model).flatMap { model.transcript(of: $0.actions) } ?? []
            return (lines, lines.filter { !($0.contains("post_unpatch_callback: livepatch_callbacks_")) })
        }
        let body: [ExploreAction] = [.loadDemo2(replace: false), .loadTarget, .loadDemo(prePatchFails: false),
                                     .enable(.demo2), .setPrePatchRet(fails: true), .disable(.demo2)]
        var boots = 0
        let shrunk = try ExploreMatrix.shrinkDivergence(body, transcripts: transcripts(body)) { batch in
            boots += 1
            let pairs = batch.map(transcripts)
            return (pairs.map { Optional($0.0) }, pairs.map { Optional($0.1) })
        }
        // Loading the target and the demo is enough: the teardown disables
        // the demo, whose post-unpatch for the module B leaves out.
        #expect(shrunk.body == [.loadTarget, .loadDemo(prePatchFails: false)])
        #expect(shrunk.transcripts.a != shrunk.transcripts.b)
        #expect(boots > 1)
    }

    @Test func firstDivergence() {
        #expect(ExploreMatrix.firstDivergence([["a"], ["b"]], [["a"], ["b"]]) == nil)
        #expect(ExploreMatrix.firstDivergence([["a"], ["b"]], [["a"], ["c"]]) == 1)
        #expect(ExploreMatrix.firstDivergence([["a"], ["b"]], [["a"]]) == 1)
    }
}
