import Foundation

/// `path` against the current directory unless it is already absolute:
/// the paths a command is given are relative to where it was started, and
/// the guest image, QEMU and lava-run's file:// URLs need them whole.
func absolute(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}
