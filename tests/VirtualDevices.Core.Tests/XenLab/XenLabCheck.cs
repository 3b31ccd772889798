namespace VirtualDevices.Tests.XenLab;

/// <summary>One line of the Xen lab's result file.</summary>
/// <param name="Name">The check's name, prefixed by the xenstore daemon of its boot.</param>
/// <param name="Status">pass, fail or skip.</param>
/// <param name="Message">What the check saw.</param>
internal sealed record XenLabCheck(string Name, string Status, string Message);
