/// Escaping shared by the HTML report and junit.xml.
enum Markup {
    /// Text for element content and double-quoted attribute values: `& < > "`
    /// as entities; control characters, which kernel lines can carry and
    /// XML 1.0 forbids, as their visible Unicode pictures (U+2400…).
    /// `keepingNewlines` leaves line breaks in element text (junit.xml).
    static func escape(_ text: String, keepingNewlines: Bool = false) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "\t": result.unicodeScalars.append(scalar)
            case "\n" where keepingNewlines: result.unicodeScalars.append(scalar)
            case "\u{0}"..."\u{1F}": result.unicodeScalars.append(Unicode.Scalar(0x2400 + scalar.value) ?? "\u{FFFD}")
            case "\u{7F}": result += "\u{2421}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
