namespace VirtualDevices.Nbd.Protocol;

// The numbered fields of the NBD wire (NetworkBlockDevice/nbd doc/proto.md), one enum per field, in the order the
// protocol meets them: handshake flags, options and their replies, info types, then transmission commands, their
// flags and the structured reply chunk types. Kept in one file, as proto.md and nbd-protocol.h keep them, so a value
// is checked against the spec in one reading; the magic numbers and errno values are beside it (NbdMagic, NbdErrno).

/// <summary>Handshake flags (server, 16 bits) and client flags (32 bits) share these bit positions.</summary>
[Flags]
internal enum NbdHandshakeFlags : uint
{
    None = 0,
    FixedNewstyle = 1 << 0,
    NoZeroes = 1 << 1,
}

/// <summary>Option codes of the fixed newstyle negotiation.</summary>
internal enum NbdOption : uint
{
    ExportName = 1,
    Abort = 2,
    List = 3,
    StartTls = 5,
    Info = 6,
    Go = 7,
    StructuredReply = 8,
    ListMetaContext = 9,
    SetMetaContext = 10,
    ExtendedHeaders = 11,
}

/// <summary>Reply types of the fixed newstyle negotiation; errors have bit 31 set.</summary>
internal enum NbdOptionReply : uint
{
    Ack = 1,
    Server = 2,
    Info = 3,
    MetaContext = 4,
    ErrorUnsupported = 0x80000001,
    ErrorPolicy = 0x80000002,
    ErrorInvalid = 0x80000003,
    ErrorPlatform = 0x80000004,
    ErrorTlsRequired = 0x80000005,
    ErrorUnknown = 0x80000006,
    ErrorShutdown = 0x80000007,
    ErrorBlockSizeRequired = 0x80000008,
    ErrorTooBig = 0x80000009,
    ErrorExtendedHeaderRequired = 0x8000000a,
}

/// <summary>Information items of NBD_OPT_INFO and NBD_OPT_GO.</summary>
internal enum NbdInfoType : ushort
{
    Export = 0,
    Name = 1,
    Description = 2,
    BlockSize = 3,
}

/// <summary>Transmission request types.</summary>
internal enum NbdCommand : ushort
{
    Read = 0,
    Write = 1,
    Disconnect = 2,
    Flush = 3,
    Trim = 4,
    Cache = 5,
    WriteZeroes = 6,
    BlockStatus = 7,
}

/// <summary>Flags of a transmission request.</summary>
[Flags]
internal enum NbdCommandFlags : ushort
{
    None = 0,
    ForceUnitAccess = 1 << 0,
    NoHole = 1 << 1,
    DoNotFragment = 1 << 2,
    RequestOne = 1 << 3,
    FastZero = 1 << 4,
    PayloadLength = 1 << 5,
}

/// <summary>Types of structured (and extended) reply chunks; error types have bit 15 set.</summary>
internal enum NbdChunkType : ushort
{
    None = 0,
    OffsetData = 1,
    OffsetHole = 2,
    BlockStatus = 5,
    BlockStatusExtended = 6,
    Error = 0x8001,
    ErrorOffset = 0x8002,
}
