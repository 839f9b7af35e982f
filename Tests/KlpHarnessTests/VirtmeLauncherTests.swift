import Testing
import KlpHarness

/// virtme-ng's command line for `klp-harness vm --exec`: how the accelerator is asked for.
@Suite("virtme-ng launcher")
struct VirtmeLauncherTests {
    private func arguments(_ accelerator: Accelerator) -> [String] {
        VirtmeLauncher(vng: "vng", accelerator: accelerator, cpus: 2, memory: "1G", wallClockLimit: .seconds(60))
            .arguments(image: "/boot/vmlinuz", writableDirectory: "/tmp/r", command: ["true"])
    }

    @Test("TCG runs all vCPUs on one thread, as in the hermetic guest: multi-threaded TCG in QEMU < 8.1 leaves stale int3")
    func tcgIsSingleThreaded() throws {
        let arguments = arguments(.tcg)
        #expect(arguments.contains("--disable-kvm"))
        let option = try #require(arguments.firstIndex(of: "--qemu-opts=-accel tcg,thread=single"))
        // vng's own options end at "--"; what follows is the guest's command.
        #expect(option < (arguments.firstIndex(of: "--") ?? arguments.endIndex))
    }

    @Test("KVM leaves the accelerator to virtme-ng")
    func kvmIsUnchanged() {
        #expect(!arguments(.kvm).contains { $0.hasPrefix("--qemu-opts") || $0 == "--disable-kvm" })
    }
}
