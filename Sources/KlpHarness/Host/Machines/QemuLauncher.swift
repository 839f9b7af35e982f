import Foundation

/// Boots the hermetic guest with QEMU directly: the kernel (an ELF vmlinux
/// through its PVH entry point, or a bzImage) and the guest image, three
/// serial ports and nothing else. No host file system is shared.
///
/// - ttyS0: the kernel console, appended to `console.log`;
/// - ttyS1: the runner's KTAP and messages, streamed to the host (stdout);
/// - ttyS2: the results channel, recorded into a file.
public struct QemuLauncher: Sendable {
    public var accelerator: Accelerator
    public var cpus: Int
    public var memory: String
    /// The user's own kernel arguments (`vm --append`), after ours, so the
    /// kernel takes theirs where both set the same one.
    public var extraKernelArguments: String

    public init(accelerator: Accelerator, cpus: Int, memory: String, extraKernelArguments: String = "") {
        self.accelerator = accelerator
        self.cpus = cpus
        self.memory = memory
        self.extraKernelArguments = extraKernelArguments
    }

    /// The kernel command line. A panic (and with `oops=panic`, any oops;
    /// with `softlockup_panic=1`, a CPU stuck in the kernel) reboots at once, which `-no-reboot` turns into QEMU exiting: the host
    /// then knows the kernel died. `quiet` keeps the console to warnings and
    /// worse (an oops raises the level itself), which matters under TCG
    /// where every console byte is an emulated port write. The IO-APIC timer
    /// check can miss its ticks on a loaded TCG host ("IO-APIC + timer
    /// doesn't work!"); virtual machines skip it with `no_timer_check`.
    public static let kernelArguments = "console=ttyS0 quiet panic=-1 oops=panic softlockup_panic=1 no_timer_check"

    /// The whole command line the guest boots with.
    public var kernelCommandLine: String { Self.kernelCommandLine(appending: extraKernelArguments) }

    public static func kernelCommandLine(appending extra: String) -> String {
        extra.isEmpty ? kernelArguments : "\(kernelArguments) \(extra)"
    }

    /// x86's COMMAND_LINE_SIZE (arch/x86/include/asm/setup.h), with its NUL:
    /// the boot protocol truncates a longer line without a word.
    static let commandLineLimit = 2047

    /// Checks `vm --append`: one line of printable text that fits beside our
    /// own arguments. QEMU passes it to the kernel as it is, so a newline or
    /// a control byte would reach the kernel's parser, and a line past the
    /// limit would lose its end silently.
    public static func validatedExtraArguments(_ text: String) throws(HarnessError) -> String {
        let trimmed = String(text.trimmingSpaces)
        if let bad = trimmed.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw .badInput("--append has a control character (U+\(String(bad.value, radix: 16, uppercase: true).leftPadded(to: 4, with: "0"))); the kernel command line is one line",
                            remedy: "pass the arguments on one line, separated by spaces, e.g. --append 'log_buf_len=4M printk.devkmsg=on'")
        }
        let room = commandLineLimit - kernelArguments.utf8.count - 1
        guard trimmed.utf8.count <= room else {
            throw .badInput("--append is \(trimmed.utf8.count) bytes; the kernel command line has room for \(room) more after the harness's own '\(kernelArguments)'",
                            remedy: "shorten --append to \(room) bytes or fewer")
        }
        return trimmed
    }

    /// The host end of ttyS1. The harness's own test of a lost KTAP stream
    /// (HostFailurePathTests) sets KLP_HARNESS_TEST_DROP_KTAP=1 to discard
    /// it, and checks that the verdict still arrives over the channel.
    var ktapBackend: String {
        ProcessInfo.processInfo.environment["KLP_HARNESS_TEST_DROP_KTAP"] == "1" ? "null,id=ktap" : "stdio,id=ktap,signal=off"
    }

    /// The `-accel` value. TCG runs every vCPU on one host thread
    /// (`thread=single`), not one thread each (multi-threaded TCG, QEMU's
    /// default for x86 guests on x86 hosts). QEMU before 8.1 translates
    /// guest code without holding the lock of the page it reads, so a vCPU
    /// can build a translation block from bytes another vCPU is rewriting
    /// at that moment and keep running the old bytes after the write. The
    /// kernel's text patching (an int3 first, then the tail, then the first
    /// byte: text_poke_bp_batch() in arch/x86/kernel/alternative.c) then
    /// leaves a stale int3 the kernel no longer expects, and the guest
    /// oopses with "Oops: int3" in the patched code (getpid under a
    /// livepatch of it; irqentry_exit, whose preemption static call every
    /// livepatch transition rewrites on PREEMPT_DYNAMIC kernels, as in
    /// CI). QEMU's fix is commit
    /// deba78709ae8 ("accel/tcg: Always lock pages before translation");
    /// bookworm ships QEMU 7.2. One TCG thread never translates while
    /// another vCPU writes. Measured with scripts/int3-soak (docs/vm.md,
    /// "More than one vCPU under TCG"): no oops, and faster on a busy
    /// 2-core host. With one vCPU the option changes nothing.
    var accelerationOption: String {
        accelerator == .tcg ? "tcg,thread=single" : accelerator.rawValue
    }

    public func arguments(kernel: String, initrd: String, consoleLog: String, channel: String) -> [String] {
        [
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-accel", accelerationOption, "-cpu", accelerator == .kvm ? "host" : "max",
            "-m", memory, "-smp", String(cpus),
            "-kernel", kernel, "-initrd", initrd, "-append", kernelCommandLine,
            "-chardev", "file,id=console,append=on,path=\(Self.escaped(consoleLog))", "-serial", "chardev:console",
            "-chardev", ktapBackend, "-serial", "chardev:ktap",
            "-chardev", "file,id=results,path=\(Self.escaped(channel))", "-serial", "chardev:results",
        ]
    }

    /// Boots once; `onOutput` gets the guest's ttyS1 as it arrives. QEMU's
    /// own messages (a bad option, a missing file) go to `qemuLog`.
    public func boot(kernel: String, initrd: String, consoleLog: String, channel: String, qemuLog: String,
                     limit: Duration, stopWhen: (@Sendable () -> Bool)? = nil, onOutput: (Data) -> Void) throws -> Subprocess.Outcome {
        let qemu = Subprocess("qemu-system-x86_64", arguments(kernel: kernel, initrd: initrd, consoleLog: consoleLog, channel: channel))
        return try qemu.stream(timeout: limit, stderrPath: qemuLog, stopWhen: stopWhen, onOutput: onOutput)
    }

    /// QEMU option values separate with commas; a comma in a path is doubled.
    static func escaped(_ path: String) -> String { path.replacing(",", with: ",,") }
}
