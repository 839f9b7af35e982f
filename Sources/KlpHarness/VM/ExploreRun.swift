import Foundation

/// One boot of the hermetic guest that runs `klp-harness explore` instead of
/// the suite. The guest's KTAP (one result per sequence) streams to
/// `emit`; its explore files arrive over the results channel into
/// `<results>/<release>/explore/`. A kernel crash fails the sequence that
/// was running, and the run: the explorer does not boot again, since the
/// sequences after it would start from a different generator state.
struct ExploreRun {
    var release: String
    var kernel: String
    var image: GuestImage
    var launcher: QemuLauncher
    var folder: ResultsFolder
    var wallClock: Deadline
    var consoleLog: String
    /// KTAP lines (stdout) when this kernel's stream is the run's output.
    var emit: ((String) -> Void)?
    var log: (String) -> Void

    struct Result {
        var status: ExitStatus
        var document: ExploreDocument?
        var infrastructureError: String?
    }

    /// Boots once with `arguments` for the runner (and `files` under /klp).
    func run(arguments: [String], files: [(name: String, text: String)] = []) throws -> Result {
        try image.prepareBoot(arguments: arguments, files: files)
        let channel = "\(folder.root)/.channel"
        let qemuLog = "\(folder.root)/qemu.log"
        let consoleStart = FileBytes.size(consoleLog) ?? 0
        var guestExit: Int32?
        var lastFinished = 0
        var ktap: [String] = []
        var lines = LineSplitter()
        let handle: (String) -> Void = { line in
            if line.hasPrefix(GuestImage.exitPrefix) {
                guestExit = Int32(line.dropFirst(GuestImage.exitPrefix.count).trimmingSpaces)
                return
            }
            if let result = KTAPProgress.parseResult(line) { lastFinished = result.number }
            if line.hasPrefix("# guest: ") {
                log("\(release): \(line.dropFirst(2))")
                return
            }
            ktap.append(line)
            emit?(line)
        }
        _ = try? FileBytes.remove(channel)
        let vm = try launcher.boot(kernel: kernel, initrd: image.path, consoleLog: consoleLog, channel: channel,
                                   qemuLog: qemuLog, limit: max(.seconds(1), wallClock.remaining)) { chunk in
            lines.feed(chunk).forEach(handle)
        }
        lines.finish().forEach(handle)
        defer { try? FileBytes.write(ktap.map { $0 + "\n" }.joined(), to: folder.ktapPath) }
        let received = ResultsChannel.parse((try? FileBytes.read(channel)) ?? [])
        _ = try? FileBytes.remove(channel)
        var document: ExploreDocument?
        for path in received.order {
            guard let bytes = received.files[path], path != GuestImage.exitStatusFile else { continue }
            guard path.hasPrefix("\(Explorer.folderName)/"), !path.contains("..") else { continue }
            try FileBytes.makeDirectories("\(folder.root)/\(Explorer.folderName)")
            try FileBytes.write(bytes, to: "\(folder.root)/\(path)")
            if path == "\(Explorer.folderName)/explore.json" {
                document = try? JSONDecoder().decode(ExploreDocument.self, from: Data(bytes))
            }
        }
        if guestExit == nil, let bytes = received.files[GuestImage.exitStatusFile] {
            guestExit = Int32(String(decoding: bytes, as: UTF8.self))
        }
        if let guestExit {
            return Result(status: ExitStatus(rawValue: guestExit) ?? .failed, document: document)
        }
        if Interruption.isRequested {
            return Result(status: Interruption.exitStatus, document: document)
        }
        let console = HermeticRun.lines(of: consoleLog, from: consoleStart)
        if !vm.timedOut, lastFinished > 0 || console.contains(where: { $0.contains("klp-harness") }),
           let crash = KernelCrash.first(in: console) {
            // A crash is the running sequence's failure, with the console.
            let sequence = lastFinished + 1
            let report = ["# kernel crashed during sequence \(sequence): \(crash.headline)"] + crash.excerpt.prefix(20).map { "# \($0)" }
                + ["not ok \(sequence) sequence-\(sequence)",
                   "# the explorer stopped: reboot-and-continue is for the suite; rerun with the same --seed to reproduce"]
            report.forEach { emit?($0) }
            ktap += report
            try FileBytes.makeDirectories("\(folder.root)/\(Explorer.folderName)")
            try FileBytes.write((["kernel crashed during sequence \(sequence): \(crash.headline)"] + crash.excerpt).map { $0 + "\n" }.joined(),
                                to: "\(folder.root)/\(Explorer.folderName)/crash.txt")
            return Result(status: .failed, document: document)
        }
        let reason = vm.timedOut
            ? "the VM exceeded its wall-clock limit of \(wallClock.limit.secondsText) and was killed"
            : "the VM stopped (QEMU exited with \(vm.status)) without the explorer's exit status and without a kernel crash in the console"
        return Result(status: .infrastructure, document: document, infrastructureError: reason)
    }
}
