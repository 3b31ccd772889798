namespace VirtualDevices.XenLab.Devices;

/// <summary>A check that cannot run here (a check it depends on failed): reported as skipped.</summary>
internal sealed class SkipCheckException(string message) : Exception(message);
