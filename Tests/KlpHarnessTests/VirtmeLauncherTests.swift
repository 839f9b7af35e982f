import KlpHarness
import XCTest

final class VirtmeLauncherTests: XCTestCase {
    /// Under TCG the --exec guest gets one TCG thread, like the hermetic one:
    /// multi-threaded TCG in bookworm's QEMU can oops the guest (docs/vm.md).
    func testTCGRunsOneThreadForAllVCPUs() {
        let launcher = VirtmeLauncher(vng: "vng", accelerator: .tcg, cpus: 2, memory: "1G", wallClockLimit: .seconds(60))
        let arguments = launcher.arguments(image: "/boot/vmlinuz", writableDirectory: "/tmp/r", command: ["true"])
        XCTAssertTrue(arguments.contains("--disable-kvm"))
        XCTAssertTrue(arguments.contains("--qemu-opts=-accel tcg,thread=single"), "\(arguments)")
        let separator = arguments.firstIndex(of: "--") ?? arguments.endIndex
        XCTAssertLessThan(arguments.firstIndex(of: "--qemu-opts=-accel tcg,thread=single") ?? separator, separator,
                          "QEMU options must come before the guest command")
    }

    func testKVMLeavesTheAcceleratorToVirtmeNG() {
        let launcher = VirtmeLauncher(vng: "vng", accelerator: .kvm, cpus: 2, memory: "1G", wallClockLimit: .seconds(60))
        let arguments = launcher.arguments(image: "/boot/vmlinuz", writableDirectory: "/tmp/r", command: ["true"])
        XCTAssertFalse(arguments.contains { $0.hasPrefix("--qemu-opts") || $0 == "--disable-kvm" })
    }
}
