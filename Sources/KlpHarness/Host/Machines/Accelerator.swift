/// How QEMU runs the guest: KVM where it really works, TCG otherwise.
public enum Accelerator: String, Sendable, CaseIterable {
    case kvm, tcg

    public struct Choice: Sendable, Equatable {
        public var accelerator: Accelerator
        public var reason: String
    }

    /// `/dev/kvm` existing is not enough (on some hosts QEMU aborts with
    /// "failed to set MSR" or hangs), so boot the kernel itself under KVM
    /// with no root file system: a working KVM prints the banner within a
    /// second and panics out (panic=-1, -no-reboot). The verdict is kept in
    /// `cache`, keyed by what could change it (QEMU's version, the host
    /// kernel, the /dev/kvm node), so a host where KVM hangs pays the bound
    /// once, not on every run.
    public static func probe(kernel: String, cache: String, limit: Duration = .seconds(3)) -> Choice {
        guard KernelFile.exists("/dev/kvm") else {
            return Choice(accelerator: .tcg, reason: "no /dev/kvm")
        }
        let key = hostKey()
        if let cached = try? KernelFile.read(cache), let choice = parseCache(cached, key: key) {
            return choice
        }
        let choice = probe(kernel: kernel, limit: limit)
        // A probe cut short by Ctrl-C decided nothing: do not remember it.
        if !Interruption.isRequested {
            try? FileBytes.write("\(key)\n\(choice.accelerator.rawValue)\n\(choice.reason)\n", to: cache)
        }
        return choice
    }

    static func probe(kernel: String, limit: Duration) -> Choice {
        let qemu = Subprocess("qemu-system-x86_64", [
            "-accel", "kvm", "-cpu", "host", "-m", "256", "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", kernel, "-append", "console=ttyS0 panic=-1 loglevel=4",
        ])
        let started = ContinuousClock.now
        guard let outcome = try? qemu.run(timeout: limit) else {
            return Choice(accelerator: .tcg, reason: "qemu-system-x86_64 did not start")
        }
        let took = (ContinuousClock.now - started).secondsText
        if outcome.output.contains("Kernel panic") || outcome.output.contains("Linux version") {
            return Choice(accelerator: .kvm, reason: "a KVM test boot reached the kernel in \(took)")
        }
        if outcome.timedOut {
            return Choice(accelerator: .tcg, reason: "a KVM test boot printed nothing in \(took)")
        }
        let firstLine = outcome.output.split(separator: "\n").first.map(String.init) ?? "no output"
        return Choice(accelerator: .tcg, reason: "a KVM test boot failed (exit \(outcome.status): \(firstLine))")
    }

    /// QEMU's version, the host kernel and the /dev/kvm node, in one line.
    static func hostKey() -> String {
        let qemu = (try? Subprocess("qemu-system-x86_64", ["--version"]).run(timeout: .seconds(10)))?.output
            .split(separator: "\n").first.map(String.init) ?? "unknown QEMU"
        var info = stat()
        let node = stat("/dev/kvm", &info) == 0 ? "\(info.st_rdev)/\(info.st_ino)/\(info.st_mode)" : "none"
        return "\(qemu); host \(SystemState.kernelRelease); /dev/kvm \(node)"
    }

    /// The cached choice, if it was made for `key`.
    static func parseCache(_ text: String, key: String) -> Choice? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 3, lines[0] == key, let accelerator = Accelerator(rawValue: String(lines[1])) else { return nil }
        return Choice(accelerator: accelerator, reason: "\(lines[2]); remembered from an earlier probe on this host")
    }
}

#if canImport(Glibc)
import Glibc
#endif
