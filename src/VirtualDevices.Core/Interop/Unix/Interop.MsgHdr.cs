namespace VirtualDevices.Interop;

internal static partial class Unix
{
    /// <summary><c>struct msghdr</c> (Linux, 64-bit: 56 bytes; checked by the C header test).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IOVector* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>
    /// <c>struct cmsghdr</c> (Linux, 64-bit: 16 bytes, its data at <c>CMSG_DATA</c> = 16; checked by the C header
    /// test). A control buffer is cmsghdrs, each padded to 8 bytes (<see cref="CmsgSpace"/>).
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct CMsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary><c>SCM_RIGHTS</c>: a control message carrying file descriptors.</summary>
    internal const int SCM_RIGHTS = 1;

    /// <summary><c>MSG_CMSG_CLOEXEC</c>: descriptors received are close-on-exec at once (no window for a fork).</summary>
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;

    /// <summary><c>MSG_TRUNC</c>: the message was longer than the buffer (the rest is lost).</summary>
    internal const int MSG_TRUNC = 0x20;

    /// <summary><c>MSG_CTRUNC</c>: the control data was longer than its buffer (descriptors beyond it were closed).</summary>
    internal const int MSG_CTRUNC = 0x8;

    /// <summary><c>CMSG_LEN(n)</c>: a cmsghdr's length field for <paramref name="dataLength"/> bytes of data.</summary>
    internal static unsafe int CmsgLength(int dataLength) => sizeof(CMsgHdr) + dataLength;

    /// <summary><c>CMSG_SPACE(n)</c>: the bytes a cmsghdr with <paramref name="dataLength"/> bytes of data takes, padded to 8.</summary>
    internal static unsafe int CmsgSpace(int dataLength) => sizeof(CMsgHdr) + ((dataLength + 7) & ~7);
}
