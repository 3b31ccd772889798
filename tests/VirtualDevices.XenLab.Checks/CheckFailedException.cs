namespace VirtualDevices.XenLab.Checks;

/// <summary>A check's expectation that did not hold; the message says what was expected and what was seen.</summary>
internal sealed class CheckFailedException(string message) : Exception(message);
