namespace VirtualDevices.Nbd.Protocol;

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
