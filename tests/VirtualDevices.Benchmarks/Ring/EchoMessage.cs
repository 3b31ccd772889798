namespace VirtualDevices.Benchmarks.Ring;

/// <summary>The request and the response of <c>ring-echo</c>: <c>struct echo_request</c> of ring-bench.c (16 bytes).</summary>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
internal struct EchoMessage
{
    /// <summary>The value that tells the back to stop after answering.</summary>
    public const ulong Stop = ulong.MaxValue;

    public ulong Id;
    public ulong Value;

    /// <summary>The value request <paramref name="i"/> carries (as ring-bench.c computes it).</summary>
    public static ulong ValueOf(ulong i) => i * 0x9E3779B97F4A7C15UL;
}
