/// How QEMU runs the guest: KVM where it really works, TCG otherwise.
public enum Accelerator: String, Sendable, CaseIterable {
    case kvm, tcg

    public struct Choice: Sendable {
        public var accelerator: Accelerator
        public var reason: String
    }

    /// `/dev/kvm` existing is not enough (on some hosts QEMU aborts with
    /// "failed to set MSR" or hangs), so boot the kernel itself under KVM
    /// for a few seconds with no root file system: a working KVM prints
    /// the banner and panics out (panic=-1, -no-reboot) almost at once.
    public static func probe(image: String, limit: Duration = .seconds(15)) -> Choice {
        guard KernelFile.exists("/dev/kvm") else {
            return Choice(accelerator: .tcg, reason: "no /dev/kvm")
        }
        let qemu = Subprocess("qemu-system-x86_64", [
            "-accel", "kvm", "-cpu", "host", "-m", "256", "-smp", "1",
            "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", image, "-append", "console=ttyS0 panic=-1 loglevel=4",
        ])
        let started = ContinuousClock.now
        guard let outcome = try? qemu.run(timeout: limit) else {
            return Choice(accelerator: .tcg, reason: "qemu-system-x86_64 did not start")
        }
        let took = (ContinuousClock.now - started).secondsText
        if outcome.timedOut {
            return Choice(accelerator: .tcg, reason: "a KVM test boot hung for \(took)")
        }
        if outcome.output.contains("Kernel panic") || outcome.output.contains("Linux version") {
            return Choice(accelerator: .kvm, reason: "a KVM test boot reached the kernel in \(took)")
        }
        let firstLine = outcome.output.split(separator: "\n").first.map(String.init) ?? "no output"
        return Choice(accelerator: .tcg, reason: "a KVM test boot failed (exit \(outcome.status): \(firstLine))")
    }
}
