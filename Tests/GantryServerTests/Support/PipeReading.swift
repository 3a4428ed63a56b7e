import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension FileHandle {
    /// One `read(2)` (empty at end of file), retried when a signal interrupts it. Foundation's
    /// `readDataToEndOfFile()` crashes (`try!`) when a signal, such as a child's SIGCHLD, interrupts a
    /// blocked read. (Inside a `readabilityHandler`, `availableData` is fine: data is ready, nothing blocks.)
    private func readOnceRetryingInterrupts() -> Data {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fileDescriptor, $0.baseAddress, $0.count) }
            if count >= 0 { return Data(buffer[0..<count]) }
            if errno != EINTR { return Data() }
        }
    }

    /// Everything up to end of file.
    func readToEndRetryingInterrupts() -> Data {
        var all = Data()
        while true {
            let chunk = readOnceRetryingInterrupts()
            if chunk.isEmpty { return all }
            all.append(chunk)
        }
    }
}
