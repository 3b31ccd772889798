using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>
/// The payloads of the byte compatibility test: every field a function of the request's sequence number, exactly as
/// <c>tests/c/xen-ring/ring-peer.c</c> computes them, so each end checks every field the other wrote.
/// </summary>
internal static class RingPayloads
{
    public static BlkifRequest Blkif(ulong i)
    {
        var request = new BlkifRequest
        {
            Operation = (byte)(i & 1),
            SegmentCount = (byte)(1 + (i % BlkifRequest.MaxSegments)),
            Handle = (ushort)(i * 7),
            Id = i * 0x9E3779B97F4A7C15UL,
            SectorNumber = (i * 8) + 3,
        };
        for (int k = 0; k < request.SegmentCount; k++)
        {
            request.Segments[k] = new BlkifRequestSegment
            {
                Gref = (uint)(i + ((ulong)k * 1000003)),
                FirstSector = (byte)k,
                LastSector = (byte)(7 - (k % 8)),
            };
        }

        return request;
    }

    public static void CheckBlkif(in BlkifRequest request, ulong i)
    {
        BlkifRequest want = Blkif(i);
        Check("operation", i, request.Operation, want.Operation);
        Check("nr_segments", i, request.SegmentCount, want.SegmentCount);
        Check("handle", i, request.Handle, want.Handle);
        Check("id", i, request.Id, want.Id);
        Check("sector_number", i, request.SectorNumber, want.SectorNumber);
        Assert.True(request.TryGetSegmentCount(out int count));
        for (int k = 0; k < count; k++)
        {
            Check("seg.gref", i, request.Segments[k].Gref, want.Segments[k].Gref);
            Check("seg.first_sect", i, request.Segments[k].FirstSector, want.Segments[k].FirstSector);
            Check("seg.last_sect", i, request.Segments[k].LastSector, want.Segments[k].LastSector);
        }
    }

    public static BlkifResponse BlkifAnswer(in BlkifRequest request, ulong i) =>
        new() { Id = request.Id, Operation = request.Operation, Status = Status(i) };

    public static void CheckBlkifResponse(in BlkifResponse response, ulong i)
    {
        BlkifRequest want = Blkif(i);
        Check("response id", i, response.Id, want.Id);
        Check("response operation", i, response.Operation, want.Operation);
        Check("response status", i, (ulong)(ushort)response.Status, (ushort)Status(i));
    }

    public static NetifTxRequest Tx(ulong i) => new()
    {
        Gref = (uint)(i * 2654435761U),
        Offset = (ushort)(i & 0xfff),
        Flags = (ushort)(i & 0xf),
        Id = (ushort)i,
        Size = (ushort)(i * 13),
    };

    public static void CheckTx(in NetifTxRequest request, ulong i)
    {
        NetifTxRequest want = Tx(i);
        Check("tx gref", i, request.Gref, want.Gref);
        Check("tx offset", i, request.Offset, want.Offset);
        Check("tx flags", i, request.Flags, want.Flags);
        Check("tx id", i, request.Id, want.Id);
        Check("tx size", i, request.Size, want.Size);
    }

    public static NetifTxResponse TxAnswer(in NetifTxRequest request, ulong i) => new() { Id = request.Id, Status = Status(i) };

    public static void CheckTxResponse(in NetifTxResponse response, ulong i)
    {
        Check("tx response id", i, response.Id, (ushort)i);
        Check("tx response status", i, (ushort)response.Status, (ushort)Status(i));
    }

    private static short Status(ulong i) => (short)((short)(i % 3) - 1);

    private static void Check(string field, ulong i, ulong got, ulong want)
    {
        // Assert.Equal per field of a million requests is slow; compare first, build the message only on a mismatch.
        if (got != want)
        {
            Assert.Fail($"{field} of #{i} is {got}, expected {want}");
        }
    }
}
