namespace VirtualDevices.Xen.Rings;

/// <summary>
/// A shared ring whose peer broke the protocol of <c>xen/io/ring.h</c> (an index that went backwards or ran past the
/// ring, a response to a request never sent). The ring is broken from then on: every later call on it throws the same
/// error (<see cref="DeviceErrorIds.Xen.RingBroken"/>).
/// </summary>
public sealed class XenRingException : DeviceException
{
    /// <summary>Creates the error.</summary>
    /// <param name="ringName">The ring concerned (its protocol and role, such as <c>blkif front</c>).</param>
    /// <param name="message">What the peer did, with the indices concerned.</param>
    public XenRingException(string ringName, string message)
        : base(DeviceErrorIds.Xen.RingBroken, DeviceErrorCategory.ProtocolError, $"The shared ring '{ringName}' is broken: {message}", ringName)
    {
    }
}
