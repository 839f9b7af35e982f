import Foundation

/// One boot of the hermetic guest that runs `klp-harness explore` instead of
/// the suite. The guest's KTAP (one result per sequence) streams to
/// `emit`; its explore files arrive over the results channel into
/// `<results>/<release>/explore/`. A kernel crash fails the sequence that
/// was running, and the run: the explorer does not boot again, since
/// rerunning the same seed reproduces the crash more simply.
struct ExploreBoot {
    var machine: GuestMachine
    /// KTAP lines (stdout) when this kernel's stream is the run's output.
    var emit: ((String) -> Void)?

    struct Result {
        var status: ExitStatus
        var document: ExploreDocument?
        var infrastructureError: String?
    }

    /// Boots once with `arguments` for the runner (and `files` under /klp).
    func run(arguments: [String], files: [(name: String, text: String)] = []) throws -> Result {
        let folder = machine.folder
        var lastFinished = 0
        var ktap: [String] = []
        func say(_ line: String) {
            ktap.append(line)
            emit?(line)
        }
        defer { try? FileBytes.write(ktap.map { $0 + "\n" }.joined(), to: folder.ktapPath) }
        let boot = try machine.boot(arguments: arguments, files: files) { line in
            if let result = KTAPProgress.parseResult(line) { lastFinished = result.number }
            say(line)
        }
        var document: ExploreDocument?
        for path in boot.received.order {
            guard let bytes = boot.received.files[path], path.hasPrefix("\(Explorer.folderName)/"), !path.contains("..") else { continue }
            try FileBytes.makeDirectories("\(folder.root)/\(Explorer.folderName)")
            try FileBytes.write(bytes, to: "\(folder.root)/\(path)")
            if path == "\(Explorer.folderName)/explore.json" {
                document = try? JSONDecoder().decode(ExploreDocument.self, from: Data(bytes))
            }
        }
        if let guestExit = boot.guestExit {
            return Result(status: ExitStatus(rawValue: guestExit) ?? .failed, document: document)
        }
        if Interruption.isRequested {
            return Result(status: Interruption.exitStatus, document: document)
        }
        if !boot.vm.timedOut, lastFinished > 0 || !ktap.isEmpty, let crash = KernelCrash.first(in: boot.console) {
            // A crash is the running sequence's failure, with the console.
            let sequence = lastFinished + 1
            (["# kernel crashed during sequence \(sequence): \(crash.headline)"] + crash.excerpt.prefix(20).map { "# \($0)" }
                + ["not ok \(sequence) sequence-\(sequence)",
                   "# the explorer stopped; rerun with the same --seed to reproduce (\(Explorer.folderName)/crash.txt has the console)"])
                .forEach(say)
            try FileBytes.makeDirectories("\(folder.root)/\(Explorer.folderName)")
            try FileBytes.write((["kernel crashed during sequence \(sequence): \(crash.headline)"] + crash.excerpt).map { $0 + "\n" }.joined(),
                                to: "\(folder.root)/\(Explorer.folderName)/crash.txt")
            return Result(status: .failed, document: document)
        }
        let reason = boot.vm.timedOut
            ? "the VM exceeded its wall-clock limit of \(machine.wallClock.limit.secondsText) and was killed"
            : "the VM stopped (QEMU exited with \(boot.vm.status)) without the explorer's exit status and without a kernel crash in the console"
        return Result(status: .infrastructure, document: document, infrastructureError: reason)
    }
}
