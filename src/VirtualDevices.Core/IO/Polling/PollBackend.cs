namespace VirtualDevices.IO.Polling;

/// <summary>How a <see cref="PollLoop"/> waits; level-triggered, with the same behaviour, either way.</summary>
internal enum PollBackend
{
    /// <summary>
    /// <c>epoll</c>, and an eventfd for wake-ups: Linux only, and Linux's default. A change of interest costs one
    /// system call, and a wait costs the same however many descriptors are registered.
    /// </summary>
    Epoll,

    /// <summary>
    /// <c>poll(2)</c>, and a unix socket pair for wake-ups: POSIX, the default elsewhere (macOS). The loop's thread
    /// keeps the <c>pollfd</c> array; a wait costs time in proportion to the descriptors registered.
    /// </summary>
    Poll,
}
