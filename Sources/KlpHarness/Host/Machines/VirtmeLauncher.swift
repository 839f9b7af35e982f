import Foundation

/// Boots a kernel with virtme-ng and runs one command in it, as root, with
/// the host's root file system shared read-only and the results folder
/// writable. The command's stdout streams back; the console goes to a file.
public struct VirtmeLauncher: Sendable {
    public var vng: String
    public var accelerator: Accelerator
    public var cpus: Int
    public var memory: String
    public var wallClockLimit: Duration

    public init(vng: String, accelerator: Accelerator, cpus: Int, memory: String, wallClockLimit: Duration) {
        self.vng = vng
        self.accelerator = accelerator
        self.cpus = cpus
        self.memory = memory
        self.wallClockLimit = wallClockLimit
    }

    public func arguments(image: String, writableDirectory: String, command: [String]) -> [String] {
        var arguments = ["--run", image, "--memory", memory, "--cpus", String(cpus), "--rwdir", writableDirectory, "--verbose"]
        if accelerator == .tcg {
            // One TCG thread for all vCPUs, as the hermetic guest runs
            // (QemuLauncher): QEMU 7.2's multi-threaded TCG can execute a
            // stale int3 while livepatch rewrites code (docs/vm.md, "More than
            // one vCPU under TCG"). vng passes --qemu-opts through to QEMU;
            // with --disable-kvm it sets no accelerator of its own.
            arguments += ["--disable-kvm", "--qemu-opts=-accel tcg,thread=single"]
        }
        // Panic straight out of the guest instead of hanging until the wall-clock limit.
        arguments += ["--append", "panic=-1", "--append", "oops=panic"]
        // Under TCG on a loaded host the early IO-APIC timer check can miss its
        // ticks and panic ("IO-APIC + timer doesn't work!"); virtual machines
        // skip that check.
        arguments += ["--append", "no_timer_check"]
        arguments += ["--", command.map(Self.shellQuoted).joined(separator: " ")]
        return arguments
    }

    public func boot(image: String, writableDirectory: String, command: [String],
                     consoleLog: String, onOutput: (Data) -> Void) throws -> Subprocess.Outcome {
        var process = Subprocess(vng, arguments(image: image, writableDirectory: writableDirectory, command: command))
        // vng runs its siblings (virtme-run, …) from PATH: put its own bin first.
        var environment = ProcessInfo.processInfo.environment
        let bin = String(vng.prefix(upTo: vng.lastIndex(of: "/") ?? vng.startIndex))
        if !bin.isEmpty { environment["PATH"] = bin + ":" + (environment["PATH"] ?? "/usr/bin:/bin") }
        process.environment = environment
        return try process.stream(timeout: wallClockLimit, stderrPath: consoleLog, onOutput: onOutput)
    }

    static func shellQuoted(_ word: String) -> String {
        let safe = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:+,".contains($0) }
        return safe ? word : "'" + word.replacing("'", with: "'\\''") + "'"
    }
}
