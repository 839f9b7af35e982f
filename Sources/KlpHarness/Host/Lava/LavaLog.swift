/// A LAVA dispatcher's log read back: what `lava-run` prints on stdout, or
/// a job log downloaded from a server (`lavacli jobs logs --raw`), which
/// has the same records as a YAML list (`- {...}`).
///
/// Each record is one line, a YAML flow mapping such as
/// `{"dt": "…", "lvl": "results", "msg": {"case": "x", "measurement": ! "2.987", …}}`.
/// It is close to JSON but not JSON: the dispatcher's YAML dumper tags
/// some strings with `!` (non-specific tag), and a plain scalar may be
/// unquoted. The reader below knows flow mappings, flow sequences, double-
/// and single-quoted strings, plain scalars and tags (which it drops); a
/// line it cannot read is skipped and counted, never fatal: a log cut off
/// mid-line still gives the records before it.
public struct LavaLog: Sendable {
    public struct Record: Sendable {
        public var level: String
        public var message: YAMLFlow
    }

    /// One `lvl: results` record of a test case.
    public struct TestResult: Equatable, Sendable {
        /// The test definition (`0_livepatch-callbacks`); `lava` for the
        /// dispatcher's own actions and the job.
        public var definition: String
        public var name: String
        public var result: String
        public var measurement: Double?
        public var units: String?
    }

    public var records: [Record] = []
    public var unreadableLines = 0

    public static func parse(_ text: String) -> LavaLog {
        var log = LavaLog()
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            var body = line.trimmingSpaces
            if body.hasPrefix("- ") { body = body.dropFirst(2).trimmingSpaces }
            guard body.hasPrefix("{") else { continue }
            guard case .mapping(let fields)? = YAMLFlow.parse(body),
                  case .scalar(let level)? = fields["lvl"], let message = fields["msg"] else {
                log.unreadableLines += 1
                continue
            }
            log.records.append(Record(level: level, message: message))
        }
        return log
    }

    /// Every test result, the dispatcher's own (`definition: lava`) too.
    public var results: [TestResult] {
        records.compactMap { record in
            guard record.level == "results", case .mapping(let fields) = record.message,
                  let name = fields["case"]?.text, let definition = fields["definition"]?.text,
                  let result = fields["result"]?.text else { return nil }
            return TestResult(definition: definition, name: name, result: result,
                              measurement: fields["measurement"]?.text.flatMap(Double.init),
                              units: fields["units"]?.text)
        }
    }

    /// The test cases of test definitions (not the dispatcher's actions).
    public var testCases: [TestResult] { results.filter { $0.definition != "lava" } }

    /// How the job ended, from its final `case: job` record: LAVA's job is
    /// complete when that result is `pass`, incomplete otherwise.
    public var job: (complete: Bool, error: String?)? {
        for record in records.reversed() {
            guard record.level == "results", case .mapping(let fields) = record.message,
                  fields["case"]?.text == "job", fields["definition"]?.text == "lava" else { continue }
            let complete = fields["result"]?.text == "pass"
            return (complete, fields["error_msg"]?.text ?? (complete ? nil : "the job failed without an error message"))
        }
        return nil
    }

    /// What the device printed (`lvl: target`), line by line.
    public var targetLines: [String] {
        records.compactMap { record in
            guard record.level == "target" else { return nil }
            return record.message.text.map(Self.deviceText)
        }
    }

    /// A target line as the device printed it. lava-dispatcher's
    /// ShellLogger (lava_dispatcher/shell.py, `write`) logs every `"` of
    /// the console as `\"` ("escape double quotes for YAML syntax") before
    /// the YAML dumper escapes the line again; without undoing it, a
    /// `# klp-result {json}` record read from the log is not JSON. Only
    /// that backslash is dropped: the console's own `\"` was logged as
    /// `\\"` and comes back whole.
    static func deviceText(_ logged: String) -> String {
        guard logged.contains("\\\"") else { return logged }
        var text = String.UnicodeScalarView()
        var pending: Unicode.Scalar?
        for scalar in logged.unicodeScalars {
            if let backslash = pending {
                pending = nil
                if scalar != "\"" { text.append(backslash) }
            }
            if scalar == "\\" {
                pending = scalar
            } else {
                text.append(scalar)
            }
        }
        if let backslash = pending { text.append(backslash) }
        return String(text)
    }
}

/// A YAML flow value: a scalar (as text), a mapping or a sequence.
public indirect enum YAMLFlow: Equatable, Sendable {
    case scalar(String)
    case mapping([String: YAMLFlow])
    case sequence([YAMLFlow])

    /// A scalar's text.
    public var text: String? {
        if case .scalar(let text) = self { return text }
        return nil
    }

    /// The value of a whole line, or nil if it is not one flow value.
    public static func parse(_ text: Substring) -> YAMLFlow? {
        var reader = Reader(characters: Array(text.unicodeScalars))
        guard let value = reader.value() else { return nil }
        reader.skipSpaces()
        return reader.atEnd ? value : nil
    }

    struct Reader {
        var characters: [Unicode.Scalar]
        var index = 0

        var atEnd: Bool { index >= characters.count }
        var current: Unicode.Scalar? { atEnd ? nil : characters[index] }

        mutating func skipSpaces() {
            while let character = current, character == " " || character == "\t" { index += 1 }
        }

        mutating func value() -> YAMLFlow? {
            skipSpaces()
            // A tag (`!`, `!!str`, `!custom`) before the value: dropped.
            if current == "!" {
                while let character = current, character != " " { index += 1 }
                skipSpaces()
            }
            switch current {
            case "{": return mapping()
            case "[": return sequence()
            case "\"": return doubleQuoted().map(YAMLFlow.scalar)
            case "'": return singleQuoted().map(YAMLFlow.scalar)
            case nil: return nil
            default: return .scalar(plain())
            }
        }

        mutating func mapping() -> YAMLFlow? {
            index += 1
            var fields: [String: YAMLFlow] = [:]
            while true {
                skipSpaces()
                if current == "}" { index += 1; return .mapping(fields) }
                guard let key = value()?.text else { return nil }
                skipSpaces()
                guard current == ":" else { return nil }
                index += 1
                guard let item = value() else { return nil }
                fields[key] = item
                skipSpaces()
                if current == "," { index += 1; continue }
                if current == "}" { index += 1; return .mapping(fields) }
                return nil
            }
        }

        mutating func sequence() -> YAMLFlow? {
            index += 1
            var items: [YAMLFlow] = []
            while true {
                skipSpaces()
                if current == "]" { index += 1; return .sequence(items) }
                guard let item = value() else { return nil }
                items.append(item)
                skipSpaces()
                if current == "," { index += 1; continue }
                if current == "]" { index += 1; return .sequence(items) }
                return nil
            }
        }

        /// YAML's double-quoted style: JSON's escapes plus `\xXX`, `\e`, `\0`.
        mutating func doubleQuoted() -> String? {
            index += 1
            var text = String.UnicodeScalarView()
            while let character = current {
                index += 1
                switch character {
                case "\"":
                    return String(text)
                case "\\":
                    guard let escaped = current else { return nil }
                    index += 1
                    switch escaped {
                    case "n": text.append("\n")
                    case "t": text.append("\t")
                    case "r": text.append("\r")
                    case "0": text.append("\0")
                    case "e": text.append("\u{1B}")
                    case "x": guard let scalar = hex(2) else { return nil }; text.append(scalar)
                    case "u": guard let scalar = hex(4) else { return nil }; text.append(scalar)
                    case "U": guard let scalar = hex(8) else { return nil }; text.append(scalar)
                    default: text.append(escaped)  // \" \\ \/ and the rest as themselves
                    }
                default:
                    text.append(character)
                }
            }
            return nil
        }

        mutating func hex(_ count: Int) -> Unicode.Scalar? {
            guard index + count <= characters.count else { return nil }
            let digits = String(String.UnicodeScalarView(characters[index..<(index + count)]))
            index += count
            return UInt32(digits, radix: 16).flatMap(Unicode.Scalar.init) ?? "\u{FFFD}"
        }

        mutating func singleQuoted() -> String? {
            index += 1
            var text = String.UnicodeScalarView()
            while let character = current {
                index += 1
                if character == "'" {
                    if current == "'" { text.append("'"); index += 1; continue }
                    return String(text)
                }
                text.append(character)
            }
            return nil
        }

        /// An unquoted scalar, up to the flow indicator that ends it.
        mutating func plain() -> String {
            var text = String.UnicodeScalarView()
            while let character = current, character != ",", character != "}", character != "]" {
                if character == ":", index + 1 < characters.count, characters[index + 1] == " " { break }
                text.append(character)
                index += 1
            }
            return String(String(text).trimmingSpaces)
        }
    }
}
