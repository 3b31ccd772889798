using System.Diagnostics.CodeAnalysis;
using System.Runtime.ExceptionServices;

namespace VirtualDevices.Devices;

/// <summary>
/// The rule every device template applies to what its driver throws: device errors and cancellations surface as
/// they are; anything else (a bug, or a runtime failure the driver did not map) surfaces as the device's
/// <see cref="DeviceUnknownException"/>, so a caller only ever meets typed errors.
/// </summary>
internal static class DriverFailure
{
    /// <summary>What <paramref name="e"/>, thrown by the driver of <paramref name="device"/>, surfaces as.</summary>
    /// <param name="device">The device's name.</param>
    /// <param name="e">What the driver threw.</param>
    internal static Exception Normalize(string device, Exception e) =>
        e is DeviceException or OperationCanceledException ? e : new DeviceUnknownException(device, e.Message, e);

    /// <summary>
    /// Throws <paramref name="normalized"/> from a catch of <paramref name="original"/>: the original itself again
    /// (with its stack trace) when normalizing kept it.
    /// </summary>
    /// <param name="original">The exception caught.</param>
    /// <param name="normalized">What it surfaces as.</param>
    [DoesNotReturn]
    internal static void Throw(Exception original, Exception normalized)
    {
        if (ReferenceEquals(normalized, original))
        {
            ExceptionDispatchInfo.Throw(original);
        }

        throw normalized;
    }
}
