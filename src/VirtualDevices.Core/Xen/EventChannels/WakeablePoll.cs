using VirtualDevices.Interop;

namespace VirtualDevices.Xen.EventChannels;

/// <summary>
/// One blocking step of an event-channel waiter (the real-Xen device and the loopback channels alike): poll(2) on the
/// channel's descriptor and the waiter's wake eventfd (written by cancellation or disposal) until either is readable
/// or the deadline passes. The caller re-checks its channel, cancellation and disposal after every step.
/// </summary>
internal static class WakeablePoll
{
    /// <summary>Waits once; false when the deadline passed. A wake is drained here (by the one waiter), so a wake meant for an earlier, already-returned wait costs one extra turn, never a spin.</summary>
    /// <param name="channel">The channel's descriptor (kept open by the caller for the call).</param>
    /// <param name="wake">The waiter's wake eventfd.</param>
    /// <param name="deadline">When to give up, in <see cref="Environment.TickCount64"/> milliseconds; <see cref="long.MaxValue"/> for never.</param>
    /// <param name="source">The channel's name, for errors.</param>
    /// <param name="failure">What failed, for errors.</param>
    /// <exception cref="XenDeviceException"><c>EventChannelReadFailed</c> when poll fails (other than EINTR, which is a step like any other).</exception>
    public static unsafe bool Wait(SafeFileDescriptor channel, SafeFileDescriptor wake, long deadline, string source, string failure)
    {
        long remaining = deadline == long.MaxValue ? Timeout.Infinite : Math.Max(0, deadline - Environment.TickCount64);
        Unix.PollFd* fds = stackalloc Unix.PollFd[2];
        fds[0] = new Unix.PollFd { Fd = channel.Fd, Events = Unix.POLLIN };
        fds[1] = new Unix.PollFd { Fd = wake.Fd, Events = Unix.POLLIN };
        int ready = Unix.Poll(fds, 2, (int)Math.Min(remaining, int.MaxValue));
        if (ready < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == Unix.Errno.EINTR ? true : throw new XenDeviceException(DeviceErrorIds.Xen.EventChannelReadFailed, source, errno, failure);
        }

        if (ready > 0 && (fds[1].ReturnedEvents & Unix.POLLIN) != 0)
        {
            ulong count;
            _ = Unix.Read(wake, (byte*)&count, sizeof(ulong));
        }

        return ready > 0;
    }
}
