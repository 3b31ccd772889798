namespace VirtualDevices.IO.Polling;

/// <summary>What a <see cref="PollLoop"/> calls, on its thread, when a registered descriptor is ready.</summary>
internal interface IPollHandler
{
    /// <summary>
    /// The descriptor is ready for <paramref name="events"/>. Runs on the loop's thread, so it must not block: every
    /// other descriptor of the loop waits meanwhile. It must not throw either (the loop's thread would end).
    /// </summary>
    void OnPollEvents(PollEvents events);

    /// <summary>
    /// Called by <see cref="PollLoop.Register"/> with the new registration before the descriptor is armed, so a
    /// handler that keeps it (to <see cref="PollRegistration.Modify"/> itself) has it before its first event: the
    /// loop's thread can deliver that event before <see cref="PollLoop.Register"/> returns to the registering thread.
    /// </summary>
    void OnRegistered(PollRegistration registration)
    {
    }
}
