using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace VirtualDevices.Benchmarks.Ring;

/// <summary>
/// One spin of a poll loop: the same instruction ring-bench.c's <c>cpu_relax</c> issues (<c>pause</c> on x86-64,
/// <c>yield</c> on arm64), so a spin of S polls lasts as long on both sides (Thread.SpinWait normalises its own length).
/// </summary>
internal static class CpuRelax
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Once()
    {
        if (X86Base.IsSupported)
        {
            X86Base.Pause();
        }
        else if (ArmBase.IsSupported)
        {
            ArmBase.Yield();
        }
    }
}
