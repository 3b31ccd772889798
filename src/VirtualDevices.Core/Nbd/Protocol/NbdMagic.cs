namespace VirtualDevices.Nbd.Protocol;

/// <summary>The magic numbers that frame every NBD message (all sent big-endian).</summary>
internal static class NbdMagic
{
    /// <summary>"NBDMAGIC": the first eight bytes a server sends.</summary>
    public const ulong InitPassword = 0x4e42444d41474943;

    /// <summary>"IHAVEOPT": newstyle negotiation, and the prefix of every option the client sends.</summary>
    public const ulong OptionMagic = 0x49484156454F5054;

    /// <summary>The oldstyle magic (not supported: removed from nbd-server 3.10).</summary>
    public const ulong OldstyleMagic = 0x00420281861253;

    /// <summary>Prefix of every option reply.</summary>
    public const ulong OptionReplyMagic = 0x3e889045565a9;

    /// <summary>A compact (28-byte) transmission request.</summary>
    public const uint Request = 0x25609513;

    /// <summary>An extended (32-byte) transmission request, once extended headers are negotiated.</summary>
    public const uint ExtendedRequest = 0x21e41c71;

    /// <summary>A simple (16-byte) reply.</summary>
    public const uint SimpleReply = 0x67446698;

    /// <summary>A structured reply chunk (20-byte header).</summary>
    public const uint StructuredReply = 0x668e33ef;

    /// <summary>An extended reply chunk (32-byte header).</summary>
    public const uint ExtendedReply = 0x6e8a278c;
}
