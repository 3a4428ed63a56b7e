import Foundation

extension FileHandle {
    /// What is readable now (empty at end of file). Foundation's `availableData` and
    /// `readDataToEndOfFile()` crash (`try!`) when a signal, such as a child's SIGCHLD, interrupts the
    /// read; these retry instead.
    func readAvailableRetryingInterrupts() -> Data {
        for _ in 0..<100 {
            do { return try read(upToCount: 1 << 16) ?? Data() } catch { continue }
        }
        return Data()
    }

    /// Everything up to end of file.
    func readToEndRetryingInterrupts() -> Data {
        var all = Data()
        while true {
            let chunk = readAvailableRetryingInterrupts()
            if chunk.isEmpty { return all }
            all.append(chunk)
        }
    }
}
