import Testing
@testable import KlpHarness

@Suite("Deadline: polling waits")
struct DeadlineTests {
    @Test func returnsOnceTheConditionHolds() throws {
        var polls = 0
        try Deadline(after: .seconds(5)).wait(for: "the third poll") {
            polls += 1
            return polls == 3
        }
        #expect(polls == 3)
    }

    @Test func aConditionThatAlreadyHoldsIsPolledOnce() throws {
        var polls = 0
        try Deadline(after: .milliseconds(50)).wait(for: "anything", isCancelled: { true }) {
            polls += 1
            return true
        }
        #expect(polls == 1)
    }

    @Test func timesOutNamingTheCondition() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let error = #expect(throws: WaitTimeout.self) {
            try Deadline(after: .milliseconds(50)).wait(for: "livepatch_callbacks_demo's transition to stall") { false }
        }
        let elapsed = clock.now - started
        #expect(error == WaitTimeout(condition: "livepatch_callbacks_demo's transition to stall", limit: .milliseconds(50)))
        #expect(error?.description == "timed out after 0.050 s waiting for livepatch_callbacks_demo's transition to stall")
        // Never before the limit; and it does not overshoot by much.
        #expect(elapsed >= .milliseconds(50))
        #expect(elapsed < .milliseconds(50) + .seconds(1))
    }

    @Test func cancellationThrowsWaitInterrupted() throws {
        var polls = 0
        let error = #expect(throws: WaitInterrupted.self) {
            try Deadline(after: .seconds(5)).wait(for: "a module's refcnt to drop to 0", isCancelled: { polls >= 2 }) {
                polls += 1
                return false
            }
        }
        #expect(error == WaitInterrupted(condition: "a module's refcnt to drop to 0"))
        #expect(polls == 2)
    }

    @Test func errorsOfTheConditionPropagate() {
        struct Unreadable: Error, Equatable {}
        #expect(throws: Unreadable()) {
            try Deadline(after: .milliseconds(50)).wait(for: "a sysfs file") { throw Unreadable() }
        }
    }

    @Test func hasPassedOnlyOnceItsInstantIsReached() {
        #expect(!Deadline(after: .seconds(60)).hasPassed)
        #expect(Deadline(after: .zero).hasPassed)
    }

    @Test("durations print as seconds with milliseconds", arguments: [
        (Duration.zero, "0.000 s"),
        (Duration.milliseconds(50), "0.050 s"),
        (Duration.microseconds(1_642_339), "1.642 s"),
        (Duration.seconds(60), "60.000 s"),
        (Duration.milliseconds(23_449), "23.449 s"),
    ])
    func secondsText(duration: Duration, text: String) {
        #expect(duration.secondsText == text)
    }
}
