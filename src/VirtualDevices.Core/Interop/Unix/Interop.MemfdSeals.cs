namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>Linux <c>F_ADD_SEALS</c> (<see cref="Fcntl"/>): seal a memfd made with <see cref="MFD_ALLOW_SEALING"/>.</summary>
    internal const int F_ADD_SEALS = 1033;

    /// <summary>Linux <c>F_GET_SEALS</c>: a memfd's seals; EINVAL for a file that is not a memfd.</summary>
    internal const int F_GET_SEALS = 1034;

    /// <summary><c>F_SEAL_SEAL</c>: no more seals may be added or removed.</summary>
    internal const int F_SEAL_SEAL = 0x1;

    /// <summary>
    /// <c>F_SEAL_SHRINK</c>: the file can never shrink. A grant arena has it, so that a domain that maps another's
    /// pages can never meet SIGBUS because the granter truncated its memfd under the mapping.
    /// </summary>
    internal const int F_SEAL_SHRINK = 0x2;

    /// <summary><c>F_SEAL_GROW</c>: the file can never grow.</summary>
    internal const int F_SEAL_GROW = 0x4;
}
