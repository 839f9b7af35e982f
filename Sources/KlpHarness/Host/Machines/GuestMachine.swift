import Foundation

/// What `SuiteBoots` needs of a guest: one boot at a time, and where its
/// files go. `GuestMachine` boots QEMU; the unit tests replay recorded
/// boots (ttyS1 lines, channel bytes, console lines, QEMU's outcome), as
/// the kernel's kunit.py can parse a saved log instead of running a kernel
/// (Documentation/dev-tools/kunit/run_wrapper.rst, `parse`).
protocol GuestBooting {
    var release: String { get }
    var folder: ResultsFolder { get }
    var wallClock: Deadline { get }
    var log: (String) -> Void { get }
    /// QEMU's first complaint, for the one-line error.
    var firstQemuComplaint: String? { get }
    func boot(arguments: [String], files: [(name: String, text: String)],
              stopWhen: (@Sendable () -> Bool)?, onLine: (String) -> Void) throws -> GuestMachine.Boot
}

/// One kernel's hermetic guest as the host boots it, for the suite
/// (`SuiteBoots`) and the explorer (`ExploreBoot`) alike: the boot's
/// arguments appended to the image, QEMU with its three serial ports, the
/// guest's lines, what arrived over the results channel, and the runner's
/// exit status from whichever port kept it.
struct GuestMachine: GuestBooting {
    var release: String
    /// The vmlinux (PVH) or bzImage QEMU boots.
    var kernel: String
    var image: GuestImage
    var launcher: QemuLauncher
    var folder: ResultsFolder
    var wallClock: Deadline
    var consoleLog: String
    /// Progress and messages for people (stderr).
    var log: (String) -> Void

    var qemuLog: String { "\(folder.root)/qemu.log" }

    /// What one boot came to.
    struct Boot {
        var vm: Subprocess.Outcome
        var received: ResultsChannel.Received
        /// The runner's exit status as ttyS1's last line said it.
        var ktapExit: Int32?
        /// This boot's part of console.log, as lines.
        var console: [String]

        /// The exit status as the channel's `exit-status` file said it.
        var channelExit: Int32? {
            received.files[GuestImage.exitStatusFile].flatMap { Int32(String(decoding: $0, as: UTF8.self).trimmingSpaces) }
        }

        /// The runner's exit status: ttyS1's last line or, when that port
        /// lost it, the channel's copy. Nil if the runner never finished.
        var guestExit: Int32? { ktapExit ?? channelExit }
    }

    /// Boots once with `arguments` for the runner (and `files` under /klp).
    /// `onLine` gets each ttyS1 line but the exit line and the guest's own
    /// messages (`# guest: …`, `klp-harness: …`), which go to the log.
    func boot(arguments: [String], files: [(name: String, text: String)] = [],
              stopWhen: (@Sendable () -> Bool)? = nil, onLine: (String) -> Void) throws -> Boot {
        try image.prepareBoot(arguments: arguments, files: files)
        let channel = "\(folder.root)/.channel"
        let consoleStart = FileBytes.size(consoleLog) ?? 0
        var ttyS1: [String] = []
        var lines = LineSplitter()
        var guestExit: Int32?
        // Live, line by line: the host's KTAP and its watchdog follow the
        // guest as it runs.
        func handle(_ line: String) {
            ttyS1.append(line)
            Self.route(line, release: release, log: log, onLine: onLine, exit: &guestExit)
        }
        _ = try? FileBytes.remove(channel)
        let vm = try launcher.boot(kernel: kernel, initrd: image.path, consoleLog: consoleLog, channel: channel,
                                   qemuLog: qemuLog, limit: max(.seconds(1), wallClock.remaining),
                                   stopWhen: stopWhen) { chunk in
            lines.feed(chunk).forEach(handle)
        }
        lines.finish().forEach(handle)
        // What the guest delivered, whatever happened next.
        let recording = BootRecording(ttyS1: ttyS1, channel: (try? FileBytes.read(channel)) ?? [],
                                      console: Self.lines(of: consoleLog, from: consoleStart),
                                      qemuStatus: vm.status, timedOut: vm.timedOut, stopped: vm.stopped)
        _ = try? FileBytes.remove(channel)
        if let folder = ProcessInfo.processInfo.environment[BootRecording.environmentKey], !folder.isEmpty {
            let index = (1...999).first { FileBytes.size("\(folder)/boot-\($0).qemu") == nil } ?? 999
            try recording.write(to: folder, index: index)
        }
        return Self.outcome(of: recording, guestExit: guestExit, release: release, log: log)
    }

    /// A recorded boot replayed: its ttyS1 lines routed as `boot` routes
    /// them live, and what it came to. The unit tests replay real boots.
    static func replay(_ recording: BootRecording, release: String, log: (String) -> Void,
                       onLine: (String) -> Void) -> Boot {
        var guestExit: Int32?
        for line in recording.ttyS1 {
            route(line, release: release, log: log, onLine: onLine, exit: &guestExit)
        }
        return outcome(of: recording, guestExit: guestExit, release: release, log: log)
    }

    /// One ttyS1 line: the init's exit line is kept, the guest's own
    /// messages (`# guest: …`, `klp-harness: …`) go to the log, the rest to
    /// `onLine`.
    static func route(_ line: String, release: String, log: (String) -> Void, onLine: (String) -> Void,
                      exit: inout Int32?) {
        if line.hasPrefix(GuestImage.exitPrefix) {
            exit = Int32(line.dropFirst(GuestImage.exitPrefix.count).trimmingSpaces)
        } else if line.hasPrefix("# guest: ") {
            log("\(release): \(line.dropFirst(2))")
        } else if line.hasPrefix("klp-harness: ") {
            log("\(release): guest: \(line.dropFirst("klp-harness: ".count))")
        } else {
            onLine(line)
        }
    }

    /// What a boot came to: QEMU's end, the channel parsed, the console.
    static func outcome(of recording: BootRecording, guestExit: Int32?, release: String, log: (String) -> Void) -> Boot {
        let vm = Subprocess.Outcome(status: recording.qemuStatus, timedOut: recording.timedOut, output: "",
                                    stopped: recording.stopped)
        let boot = Boot(vm: vm, received: ResultsChannel.parse(recording.channel), ktapExit: guestExit,
                        console: recording.console)
        if guestExit == nil, boot.channelExit != nil {
            log("\(release): the guest's exit status came over the results channel only (its KTAP stream lost the last line)")
        }
        return boot
    }

    /// QEMU's first complaint, for the one-line error.
    var firstQemuComplaint: String? {
        Self.lines(of: qemuLog, from: 0).first { !$0.isEmpty }
    }

    /// A file's lines from byte `offset` on (this boot's part of the console).
    static func lines(of path: String, from offset: Int) -> [String] {
        guard let bytes = try? FileBytes.read(path), offset <= bytes.count else { return [] }
        var splitter = LineSplitter()
        return splitter.feed(Data(bytes[offset...])) + splitter.finish()
    }
}
