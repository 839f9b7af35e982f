import Testing
@testable import KlpHarness

/// The QEMU command line of the hermetic guest: how the accelerator is asked for.
@Suite("QEMU launcher")
struct QemuLauncherTests {
    /// The value after `-accel` in a command line.
    private func accel(_ launcher: QemuLauncher) -> String? {
        let arguments = launcher.arguments(kernel: "vmlinux", initrd: "guest.cpio", consoleLog: "console.log", channel: "channel")
        guard let index = arguments.firstIndex(of: "-accel"), index + 1 < arguments.count else { return nil }
        return arguments[index + 1]
    }

    @Test("TCG runs all vCPUs on one thread: multi-threaded TCG in QEMU < 8.1 leaves stale int3 after text patching")
    func tcgIsSingleThreaded() {
        #expect(accel(QemuLauncher(accelerator: .tcg, cpus: 2, memory: "1G")) == "tcg,thread=single")
        #expect(accel(QemuLauncher(accelerator: .tcg, cpus: 1, memory: "1G")) == "tcg,thread=single")
    }

    @Test("KVM is asked for as it is, with the host's CPU")
    func kvmIsUnchanged() {
        let arguments = QemuLauncher(accelerator: .kvm, cpus: 2, memory: "1G")
            .arguments(kernel: "vmlinux", initrd: "guest.cpio", consoleLog: "console.log", channel: "channel")
        #expect(accel(QemuLauncher(accelerator: .kvm, cpus: 2, memory: "1G")) == "kvm")
        #expect(arguments.contains("host"))
    }
}
