/// A kernel crash or warning as the kernel prints it: an oops, `BUG()`, a
/// `WARN()` or a panic (Documentation/admin-guide/bug-hunting.rst shows the
/// shapes). Found in a console log, or in a scenario's kernel-log records.
public struct KernelCrash: Equatable, Sendable {
    /// The line that names the crash, e.g. `kernel BUG at kernel/x.c:12!`
    /// or `BUG: kernel NULL pointer dereference, address: 0000000000000000`.
    public var headline: String
    /// From the crash's first line (`cut here` if it has one) on, at most
    /// `excerptLimit` lines.
    public var excerpt: [String]

    static let excerptLimit = 80

    /// What starts each kind of report, once a line's `[ timestamp]` is gone.
    static let headlinePrefixes = [
        "kernel BUG at ", "BUG: ", "Oops: ", "general protection fault", "WARNING: CPU: ",
        "Kernel panic - not syncing", "watchdog: BUG: soft lockup", "INFO: task ",
    ]

    static let cutHere = "------------[ cut here ]------------"

    /// The first crash in `lines` (console or dmesg lines, with or without
    /// timestamps), or nil when there is none.
    public static func first(in lines: [String]) -> KernelCrash? {
        let messages = lines.map(message)
        guard let index = messages.firstIndex(where: isHeadline) else { return nil }
        // WARN(cond, fmt…) prints its message between the cut-here line and
        // the WARNING line, so look a few lines back.
        let start = messages[max(0, index - 4)..<index].lastIndex(of: cutHere) ?? index
        let excerpt = lines[start...].prefix(excerptLimit)
        return KernelCrash(headline: messages[index], excerpt: Array(excerpt))
    }

    static func isHeadline(_ message: String) -> Bool {
        headlinePrefixes.contains { message.hasPrefix($0) }
    }

    /// `[   12.345678] BUG: …` → `BUG: …`.
    static func message(_ line: String) -> String {
        var text = Substring(line)
        if text.last == "\r" { text = text.dropLast() }
        guard text.first == "[", let close = text.firstIndex(of: "]") else { return String(text) }
        let stamp = text[text.index(after: text.startIndex)..<close]
        guard stamp.allSatisfy({ $0 == " " || $0 == "." || $0.isNumber }) else { return String(text) }
        return String(text[text.index(after: close)...].drop { $0 == " " })
    }
}
