namespace VirtualDevices.XenLab.Checks;

/// <summary>Thrown by a check that cannot run here (its message says why); reported as "skip".</summary>
internal sealed class SkipException(string message) : Exception(message);
