namespace VirtualDevices.IO.Polling;

/// <summary>What a <see cref="PollLoop"/> calls, on its thread, when a registered descriptor is ready.</summary>
internal interface IPollHandler
{
    /// <summary>
    /// The descriptor is ready for <paramref name="events"/>. Runs on the loop's thread, so it must not block: every
    /// other descriptor of the loop waits meanwhile. It must not throw either (the loop's thread would end).
    /// </summary>
    void OnPollEvents(PollEvents events);
}
