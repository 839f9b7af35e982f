import Foundation
import XCTest
@testable import KlpHarness

/// The host side's failure paths, for real: apt, and VMs that do not boot
/// or overrun their wall-clock limit. They boot QEMU, so they run only when
/// KLP_HARNESS_HOST_TESTS=1 (scripts/test sets it).
final class HostFailurePathTests: XCTestCase {
    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["KLP_HARNESS_HOST_TESTS"] == "1" else {
            throw XCTSkip("boots VMs: set KLP_HARNESS_HOST_TESTS=1 (scripts/test does)")
        }
        try HarnessProcess.requireBinary()
    }

    func testKernelReleaseThatAptDoesNotKnow() throws {
        let result = try HarnessProcess.run(["vm", "--kernel", "9.9.9-nosuch-amd64"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("error: apt does not know a package linux-image-9.9.9-nosuch-amd64"), result.stderr)
        XCTAssertTrue(result.stderr.contains("hint: use an alias (6.1, 6.12)"), result.stderr)
    }

    func testKernelTreeThatWasNotBuilt() throws {
        let scratch = try ScratchDirectory()
        try scratch.write("# not a kernel\n", to: "Makefile")
        let result = try HarnessProcess.run(["vm", "--kernel-tree", scratch.path])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("\(scratch.path) has not been built (no arch/x86/boot/bzImage"), result.stderr)
    }

    func testVMOverItsWallClockLimitIsAnInfrastructureError() throws {
        let scratch = try ScratchDirectory()
        let result = try HarnessProcess.run(["vm", "--accel", "tcg", "--vm-timeout", "4", "--results", scratch.path])
        XCTAssertEqual(result.status, 3, result.output)
        XCTAssertTrue(result.stderr.contains("error: the VM exceeded its wall-clock limit of 4.000 s and was killed; console log: "), result.stderr)
        XCTAssertFalse(result.stdout.contains("not ok"), "an infrastructure failure must not look like a failing scenario")
        XCTAssertEqual(try qemuProcesses(), [], "QEMU outlived the killed VM")
    }

    func testVMThatDoesNotBootIsAnInfrastructureError() throws {
        let scratch = try ScratchDirectory()
        // 48 MiB is too little for Debian's kernel and virtme-ng's initramfs:
        // the guest dies before the runner starts.
        let result = try HarnessProcess.run(["vm", "--accel", "tcg", "--memory", "48M", "--vm-timeout", "120", "--results", scratch.path])
        XCTAssertEqual(result.status, 3, result.output)
        XCTAssertTrue(result.stderr.contains("error: the VM"), result.stderr)
        XCTAssertTrue(result.stderr.contains("console log: \(scratch.path)/"), result.stderr)
        XCTAssertFalse(result.stdout.contains("not ok"), "an infrastructure failure must not look like a failing scenario")
    }

    func qemuProcesses() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { Int($0) != nil }.compactMap { pid in
            guard let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else { return nil }
            return comm.hasPrefix("qemu-system") ? pid : nil
        }
    }
}
