import Foundation

/// Starts `process` while holding a lock file shared by every test module in this test binary (and any other
/// test process). Foundation's `Process.run()` on Linux has crashed in `memmove` when many suites spawned
/// processes at the same moment on a loaded machine; one launch at a time costs a few milliseconds.
func launchSerially(_ process: Process) throws {
    let descriptor = open(NSTemporaryDirectory() + "gantry-tests-launch.lock", O_CREAT | O_RDWR, 0o600)
    guard descriptor >= 0 else { return try process.run() }
    defer { close(descriptor) }
    flock(descriptor, LOCK_EX)
    defer { flock(descriptor, LOCK_UN) }
    try process.run()
}
