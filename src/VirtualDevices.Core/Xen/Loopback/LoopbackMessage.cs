using System.Buffers.Binary;
using System.Net.Sockets;
using VirtualDevices.Interop;

namespace VirtualDevices.Xen.Loopback;

/// <summary>
/// One control message of the loopback hypervisor, as it goes over its unix <c>SOCK_SEQPACKET</c> socket: a header
/// of six 32-bit little-endian words (type, status, three arguments, the item count), the items (grant references,
/// frames, counts), and at most one descriptor passed with it (<c>SCM_RIGHTS</c>: an arena memfd, an eventfd).
/// </summary>
/// <remarks>
/// A sequenced-packet socket delivers each message whole, with its descriptor, in one receive: no framing to get
/// wrong, and a message that does not parse is one bad message, answered as such, never a stream out of step.
/// </remarks>
internal sealed class LoopbackMessage : IDisposable
{
    /// <summary>The header's bytes.</summary>
    public const int HeaderSize = 24;

    /// <summary>The most items a message carries (grant references of one call): 4096, 16 MiB of pages.</summary>
    public const int MaxItems = 4096;

    /// <summary>The largest message.</summary>
    public const int MaxSize = HeaderSize + (MaxItems * 4);

    /// <summary>"Any domain id" in a join.</summary>
    public const uint AnyDomain = 0xFFFF;

    /// <summary>Descriptors taken from one receive; more are closed (a peer may send anything).</summary>
    private const int MaxDescriptors = 4;

    private readonly bool _ownsDescriptor;

    public LoopbackMessage(LoopbackMessageType type, LoopbackStatus status = LoopbackStatus.Ok, uint arg0 = 0, uint arg1 = 0, uint arg2 = 0, uint[]? items = null, SafeFileDescriptor? descriptor = null, bool ownsDescriptor = true)
    {
        _ownsDescriptor = ownsDescriptor;
        Type = type;
        Status = status;
        Arg0 = arg0;
        Arg1 = arg1;
        Arg2 = arg2;
        Items = items ?? [];
        Descriptor = descriptor;
    }

    public LoopbackMessageType Type { get; }

    public LoopbackStatus Status { get; }

    public uint Arg0 { get; }

    public uint Arg1 { get; }

    public uint Arg2 { get; }

    public uint[] Items { get; }

    /// <summary>The descriptor passed with the message (owned by the message until taken), or null.</summary>
    public SafeFileDescriptor? Descriptor { get; private set; }

    /// <summary>Takes ownership of the descriptor passed with the message.</summary>
    public SafeFileDescriptor? TakeDescriptor()
    {
        SafeFileDescriptor? descriptor = Descriptor;
        Descriptor = null;
        return descriptor;
    }

    /// <summary>Closes a descriptor nobody took, if the message owns it (one it only lends, a record's, stays open).</summary>
    public void Dispose()
    {
        SafeFileDescriptor? descriptor = TakeDescriptor();
        if (_ownsDescriptor)
        {
            descriptor?.Dispose();
        }
    }

    /// <summary>Sends the message (and its descriptor, which stays the caller's).</summary>
    /// <param name="socket">The connected socket.</param>
    /// <param name="dontWait">Fail with EAGAIN rather than block when the peer does not read (the hypervisor's notices: a domain that stops reading is dropped, never waited for).</param>
    /// <returns>0, or the errno.</returns>
    public unsafe int Send(Socket socket, bool dontWait)
    {
        int length = HeaderSize + (Items.Length * 4);
        byte* buffer = stackalloc byte[HeaderSize];
        var header = new Span<byte>(buffer, HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)Type);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], (int)Status);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Arg0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], Arg1);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], Arg2);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], (uint)Items.Length);
        int controlSpace = Unix.CmsgSpace(sizeof(int));
        byte* control = stackalloc byte[controlSpace];
        new Span<byte>(control, controlSpace).Clear();
        bool added = false;
        SafeFileDescriptor? descriptor = Descriptor;
        try
        {
            var message = new Unix.MsgHdr();
            if (descriptor is not null)
            {
                descriptor.DangerousAddRef(ref added);
                var cmsg = (Unix.CMsgHdr*)control;
                cmsg->Length = (nuint)Unix.CmsgLength(sizeof(int));
                cmsg->Level = Unix.SOL_SOCKET;
                cmsg->Type = Unix.SCM_RIGHTS;
                *(int*)(control + sizeof(Unix.CMsgHdr)) = descriptor.Fd;
                message.Control = control;
                message.ControlLength = (nuint)controlSpace;
            }

            fixed (uint* items = Items)
            {
                // The items are little-endian on the wire, as they are in memory on every host .NET runs this on.
                if (!BitConverter.IsLittleEndian)
                {
                    throw new PlatformNotSupportedException("The loopback hypervisor's messages are little-endian.");
                }

                Unix.IOVector* iov = stackalloc Unix.IOVector[2];
                iov[0] = new Unix.IOVector { Base = buffer, Count = HeaderSize };
                iov[1] = new Unix.IOVector { Base = (byte*)items, Count = (nuint)(Items.Length * 4) };
                message.Iov = iov;
                message.IovLength = Items.Length == 0 ? 1u : 2u;
                int flags = Unix.MSG_NOSIGNAL | (dontWait ? Unix.MSG_DONTWAIT : 0);
                while (true)
                {
                    nint sent = Unix.SendMsg(socket.SafeHandle, &message, flags);
                    if (sent == length)
                    {
                        return 0;
                    }

                    int errno = sent < 0 ? Marshal.GetLastPInvokeError() : Unix.Errno.EIO;
                    if (errno != Unix.Errno.EINTR)
                    {
                        return errno;
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                descriptor!.DangerousRelease();
            }
        }
    }

    /// <summary>Receives one message, blocking.</summary>
    /// <param name="socket">The connected socket.</param>
    /// <param name="buffer">At least <see cref="MaxSize"/> bytes.</param>
    /// <param name="message">The message; null when it did not parse (<paramref name="error"/> says why).</param>
    /// <param name="error">Why a message did not parse, or null.</param>
    /// <returns>False when the peer closed the connection (or it failed).</returns>
    public static unsafe bool Receive(Socket socket, byte[] buffer, out LoopbackMessage? message, out string? error)
    {
        message = null;
        error = null;
        int controlSpace = Unix.CmsgSpace(MaxDescriptors * sizeof(int));
        byte* control = stackalloc byte[controlSpace];
        nint received;
        int messageFlags;
        fixed (byte* data = buffer)
        {
            while (true)
            {
                new Span<byte>(control, controlSpace).Clear();
                var iov = new Unix.IOVector { Base = data, Count = (nuint)buffer.Length };
                var header = new Unix.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)controlSpace };
                received = Unix.RecvMsg(socket.SafeHandle, &header, Unix.MSG_CMSG_CLOEXEC);
                if (received >= 0)
                {
                    messageFlags = header.Flags;
                    break;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == Unix.Errno.EINTR)
                {
                    continue;
                }

                if (errno == Unix.Errno.EAGAIN && WaitReadable(socket))
                {
                    continue;
                }

                return false;
            }
        }

        if (received == 0)
        {
            return false; // the peer closed (a seqpacket socket has no empty messages to confuse this with)
        }

        SafeFileDescriptor? descriptor = TakeDescriptors(control, controlSpace, ref error);
        var span = new ReadOnlySpan<byte>(buffer, 0, (int)received);
        if ((messageFlags & (Unix.MSG_TRUNC | Unix.MSG_CTRUNC)) != 0)
        {
            error ??= "a message longer than the largest control message, or with too many descriptors";
        }
        else if (span.Length < HeaderSize)
        {
            error ??= $"a message of {span.Length} bytes, shorter than the {HeaderSize}-byte header";
        }
        else
        {
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(span[20..]);
            if (count > MaxItems || span.Length != HeaderSize + (count * 4))
            {
                error ??= $"a message of {span.Length} bytes that says it holds {count} items";
            }
        }

        if (error is not null)
        {
            descriptor?.Dispose();
            return true;
        }

        uint[] items = new uint[(span.Length - HeaderSize) / 4];
        span[HeaderSize..].CopyTo(MemoryMarshal.AsBytes(items.AsSpan()));
        message = new LoopbackMessage(
            (LoopbackMessageType)BinaryPrimitives.ReadUInt32LittleEndian(span),
            (LoopbackStatus)BinaryPrimitives.ReadInt32LittleEndian(span[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(span[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(span[12..]),
            BinaryPrimitives.ReadUInt32LittleEndian(span[16..]),
            items,
            descriptor);
        return true;
    }

    /// <summary>The first descriptor passed; any others are closed at once, and noted as an error.</summary>
    private static unsafe SafeFileDescriptor? TakeDescriptors(byte* control, int controlSpace, ref string? error)
    {
        SafeFileDescriptor? first = null;
        int offset = 0;
        while (offset + sizeof(Unix.CMsgHdr) <= controlSpace)
        {
            var cmsg = (Unix.CMsgHdr*)(control + offset);
            if (cmsg->Length < (nuint)sizeof(Unix.CMsgHdr) || (long)cmsg->Length > controlSpace - offset)
            {
                break;
            }

            if (cmsg->Level == Unix.SOL_SOCKET && cmsg->Type == Unix.SCM_RIGHTS)
            {
                int count = ((int)cmsg->Length - sizeof(Unix.CMsgHdr)) / sizeof(int);
                int* fds = (int*)(control + offset + sizeof(Unix.CMsgHdr));
                for (int i = 0; i < count; i++)
                {
                    var fd = new SafeFileDescriptor(fds[i], ownsHandle: true);
                    if (first is null)
                    {
                        first = fd;
                    }
                    else
                    {
                        fd.Dispose();
                        error ??= "a message with more than one descriptor";
                    }
                }
            }

            offset += Unix.CmsgSpace((int)cmsg->Length - sizeof(Unix.CMsgHdr));
        }

        return first;
    }

    private static unsafe bool WaitReadable(Socket socket)
    {
        bool added = false;
        socket.SafeHandle.DangerousAddRef(ref added);
        try
        {
            var fd = new Unix.PollFd { Fd = (int)socket.SafeHandle.DangerousGetHandle(), Events = Unix.POLLIN };
            return Unix.Poll(&fd, 1, Timeout.Infinite) >= 0;
        }
        finally
        {
            socket.SafeHandle.DangerousRelease();
        }
    }
}
