namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary>
    /// Linux <c>SOCK_SEQPACKET</c>: a connected unix socket that keeps message boundaries, so that each control
    /// message and the descriptors passed with it (<see cref="SCM_RIGHTS"/>) arrive together, in one receive.
    /// </summary>
    internal const int SOCK_SEQPACKET = 5;
}
