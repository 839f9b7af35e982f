/// A libkmod call that failed, with the errno the kernel or libkmod returned.
public struct KmodError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Operation: String, Sendable {
        case open = "open the module library"
        case lookUp = "look up module"
        case readInfo = "read the module information of"
        case insert = "insert module"
        case remove = "remove module"
    }

    public var operation: Operation
    /// The module's file path or name, as the user wrote it.
    public var module: String
    public var errno: ErrnoDescription

    public var description: String {
        "could not \(operation.rawValue) \(module): \(errno.message) (\(errno.name), -\(errno.code))"
    }
}
