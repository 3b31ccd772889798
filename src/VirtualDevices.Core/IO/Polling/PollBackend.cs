namespace VirtualDevices.IO.Polling;

/// <summary>How a <see cref="PollLoop"/> waits: the same level-triggered behaviour either way.</summary>
internal enum PollBackend
{
    /// <summary><c>epoll</c> and an eventfd for wake-ups: Linux only; registration changes cost one system call.</summary>
    Epoll,

    /// <summary>
    /// <c>poll(2)</c> and a socket pair for wake-ups: POSIX (macOS); the pollfd array is rebuilt on the loop's thread
    /// after registrations change.
    /// </summary>
    Poll,
}
