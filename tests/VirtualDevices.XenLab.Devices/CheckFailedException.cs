namespace VirtualDevices.XenLab.Devices;

/// <summary>A check's expectation that did not hold.</summary>
internal sealed class CheckFailedException(string message) : Exception(message);
