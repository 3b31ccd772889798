namespace VirtualDevices.Tests.Xenstore;

/// <summary>Bounds for the xenstore tests: each test as a whole, and each wait inside one.</summary>
internal static class XenstoreTestTimeouts
{
    /// <summary>The xunit timeout of a test, in milliseconds.</summary>
    public const int Test = 60_000;

    /// <summary>A token that ends a wait that should take milliseconds.</summary>
    public static CancellationToken Wait(int seconds = 10) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;
}
