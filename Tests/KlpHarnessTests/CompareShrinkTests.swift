import Testing
@testable import KlpHarness

@Suite("--compare: the first divergence, which kernels agree, shrunk keeping the groups")
struct CompareShrinkTests {
    static let model = CallbackModel()
    static let releases = ["6.1.0-57-amd64", "6.12.117+deb12-amd64", "6.1.0-57-cloud-amd64"]

    /// What the model says, as a kernel that agrees with it would print.
    static func modelTranscript(_ body: [ExploreAction]) -> [String] {
        ExploreSequence(number: 1, body: body, model: model).flatMap { model.transcript(of: $0.actions) } ?? []
    }

    /// A kernel that never prints a post-unpatch line for a module object.
    static func withoutModulePostUnpatch(_ body: [ExploreAction]) -> [String] {
        modelTranscript(body).filter { !$0.contains("post_unpatch_callback: livepatch_callbacks_") }
    }

    static let body: [ExploreAction] = [.loadDemo2(replace: false), .loadTarget, .loadDemo(prePatchFails: false),
                                        .enable(.demo2), .setPrePatchRet(fails: true), .disable(.demo2)]

    /// Kernel A prints what the model says; kernel B never prints a
    /// post-unpatch line for a module object. Each "boot" records a batch.
    @Test func twoKernelsShrinkToTheActionsThatDiverge() throws {
        var boots = 0
        let shrunk = try ExploreMatrix.shrinkDivergence(Self.body, transcripts: [Self.modelTranscript(Self.body), Self.withoutModulePostUnpatch(Self.body)]) { batch in
            boots += 1
            return [batch.map(Self.modelTranscript), batch.map(Self.withoutModulePostUnpatch)]
        }
        // Loading the target and the demo is enough: the teardown disables
        // the demo, whose post-unpatch for the module B leaves out.
        #expect(shrunk.body == [.loadTarget, .loadDemo(prePatchFails: false)])
        #expect(shrunk.transcripts[0] != shrunk.transcripts[1])
        #expect(boots > 1)
    }

    /// Three kernels: A and C agree, B drops the module's post-unpatch.
    /// C also differs from A whenever demo2 is not loaded, so the smallest
    /// body where the transcripts merely differ ([target, demo]) splits
    /// them three ways: that is another divergence, and the shrink must
    /// keep demo2 to keep A and C together.
    @Test func threeKernelsShrinkKeepingTheSamePartition() throws {
        func kernelC(_ body: [ExploreAction]) -> [String] {
            Self.modelTranscript(body) + (body.contains(.loadDemo2(replace: false)) ? [] : ["a line only C prints without demo2"])
        }
        let transcripts = [Self.modelTranscript(Self.body), Self.withoutModulePostUnpatch(Self.body), kernelC(Self.body)]
        #expect(ExploreMatrix.partition(transcripts) == [[0, 2], [1]])
        let shrunk = try ExploreMatrix.shrinkDivergence(Self.body, transcripts: transcripts) { batch in
            [batch.map(Self.modelTranscript), batch.map(Self.withoutModulePostUnpatch), batch.map(kernelC)]
        }
        #expect(shrunk.body.count < Self.body.count)
        #expect(shrunk.body.contains(.loadDemo2(replace: false)))
        #expect(shrunk.body.contains(.loadTarget) && shrunk.body.contains(.loadDemo(prePatchFails: false)))
        #expect(ExploreMatrix.partition(shrunk.transcripts) == [[0, 2], [1]])
    }

    @Test func theShrinkPredicateWantsTheSameGroupsFromEveryKernel() {
        let groups = [[0, 2], [1]]
        #expect(ExploreMatrix.sameDivergence([["a"], ["b"], ["a"]], as: groups))
        // Every kernel differs: another divergence.
        #expect(!ExploreMatrix.sameDivergence([["a"], ["b"], ["c"]], as: groups))
        // The odd one out changed: A alone now.
        #expect(!ExploreMatrix.sameDivergence([["a"], ["b"], ["b"]], as: groups))
        // All agree: the divergence is gone.
        #expect(!ExploreMatrix.sameDivergence([["a"], ["a"], ["a"]], as: groups))
        // A guest that died mid-batch did not run the candidate.
        #expect(!ExploreMatrix.sameDivergence([["a"], nil, ["a"]], as: groups))
        // Two kernels: any difference is the divergence, as before.
        #expect(ExploreMatrix.sameDivergence([["a"], ["b"]], as: [[0], [1]]))
        #expect(!ExploreMatrix.sameDivergence([["a"], ["a"]], as: [[0], [1]]))
    }

    @Test func partitionGroupsIdenticalTranscriptsInKernelOrder() {
        #expect(ExploreMatrix.partition([["a"], ["a"], ["a"]]) == [[0, 1, 2]])
        #expect(ExploreMatrix.partition([["a"], ["b"], ["a"]]) == [[0, 2], [1]])
        #expect(ExploreMatrix.partition([["b"], ["a"], ["a"]]) == [[0], [1, 2]])
        #expect(ExploreMatrix.partition([["a"], ["b"], ["c"], ["b"]]) == [[0], [1, 3], [2]])
        // A kernel that lacks the sequence agrees with none that has it.
        #expect(ExploreMatrix.partition([["a"], nil, ["a"]]) == [[0, 2], [1]])
    }

    @Test func firstDivergence() {
        #expect(ExploreMatrix.firstDivergence([[["a"], ["b"]], [["a"], ["b"]]]) == nil)
        #expect(ExploreMatrix.firstDivergence([[["a"], ["b"]], [["a"], ["c"]]])?.index == 1)
        #expect(ExploreMatrix.firstDivergence([[["a"], ["b"]], [["a"]]])?.index == 1)
        let three = ExploreMatrix.firstDivergence([[["a"], ["b"], ["x"]], [["a"], ["c"], ["y"]], [["a"], ["b"], ["z"]]])
        #expect(three?.index == 1)
        #expect(three?.groups == [[0, 2], [1]])
        #expect(ExploreMatrix.firstDivergence([[["a"]], [["a"]], [["a"]]]) == nil)
    }

    @Test func saysWhichKernelsAgree() {
        let r = Self.releases
        #expect(ExploreMatrix.agreement([[0, 2], [1]], releases: r)
            == "6.1.0-57-amd64 and 6.1.0-57-cloud-amd64 agree; 6.12.117+deb12-amd64 differs")
        #expect(ExploreMatrix.agreement([[0], [1, 2]], releases: r)
            == "6.1.0-57-amd64 differs; 6.12.117+deb12-amd64 and 6.1.0-57-cloud-amd64 agree")
        #expect(ExploreMatrix.agreement([[0], [1], [2]], releases: r)
            == "6.1.0-57-amd64, 6.12.117+deb12-amd64 and 6.1.0-57-cloud-amd64 all differ")
        #expect(ExploreMatrix.agreement([[0], [1]], releases: Array(r.prefix(2)))
            == "6.1.0-57-amd64 and 6.12.117+deb12-amd64 differ")
    }

    @Test func oneDiffPerOtherGroup() {
        let r = Self.releases
        // Two groups (always so for two kernels): the .diff of before.
        #expect(ExploreMatrix.diffFileNames(base: "seed1-sequence4", groups: [[0], [1]], releases: r) == ["seed1-sequence4.diff"])
        #expect(ExploreMatrix.diffFileNames(base: "seed1-sequence4", groups: [[0, 2], [1]], releases: r) == ["seed1-sequence4.diff"])
        #expect(ExploreMatrix.diffFileNames(base: "seed1-sequence4", groups: [[0], [1], [2]], releases: r)
            == ["seed1-sequence4.6.12.117+deb12-amd64.diff", "seed1-sequence4.6.1.0-57-cloud-amd64.diff"])
    }
}
