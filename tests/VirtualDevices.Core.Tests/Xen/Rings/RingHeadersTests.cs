using System.Globalization;
using System.Runtime.CompilerServices;
using VirtualDevices.Tests.Infrastructure;
using VirtualDevices.Xen.Rings;

namespace VirtualDevices.Tests.Xen.Rings;

/// <summary>
/// The shared ring layout (<c>xen/io/ring.h</c>) and the ring types of <c>xen/io/netif.h</c> and <c>xen/io/blkif.h</c>
/// checked against the headers by compiling and running a C program that prints the real sizes, offsets, ring sizes
/// (1 to 16 pages) and constants.
/// </summary>
public sealed class RingHeadersTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task RingLayoutsSizesAndConstantsMatchXensHeaders()
    {
        Assert.True(File.Exists("/usr/include/xen/io/ring.h"), "Xen's public headers (/usr/include/xen/io) are needed for this check");
        const string source = """
            #include <stddef.h>
            #include <stdint.h>
            #include <stdio.h>
            #include <xen/xen.h>
            #include <xen/io/ring.h>
            #include <xen/io/netif.h>
            #include <xen/io/blkif.h>
            #define P(name) printf(#name "=%lld\n", (long long)(name))
            #define S(type) P(sizeof(struct type))
            #define O(type, field) P(offsetof(struct type, field))
            #define RING(name) S(name##_sring); P(sizeof(union name##_sring_entry)); O(name##_sring, req_prod); \
                O(name##_sring, req_event); O(name##_sring, rsp_prod); O(name##_sring, rsp_event); O(name##_sring, pvt); \
                O(name##_sring, __pad); O(name##_sring, ring); \
                P(__CONST_RING_SIZE(name, 4096)); P(__CONST_RING_SIZE(name, 8192)); P(__CONST_RING_SIZE(name, 16384)); \
                P(__CONST_RING_SIZE(name, 32768)); P(__CONST_RING_SIZE(name, 65536))
            int main(void) {
                RING(blkif); RING(netif_tx); RING(netif_rx);
                S(netif_tx_request); O(netif_tx_request, gref); O(netif_tx_request, offset); O(netif_tx_request, flags);
                O(netif_tx_request, id); O(netif_tx_request, size);
                S(netif_tx_response); O(netif_tx_response, id); O(netif_tx_response, status);
                S(netif_rx_request); O(netif_rx_request, id); O(netif_rx_request, pad); O(netif_rx_request, gref);
                S(netif_rx_response); O(netif_rx_response, id); O(netif_rx_response, offset); O(netif_rx_response, flags);
                O(netif_rx_response, status);
                S(netif_extra_info); O(netif_extra_info, type); O(netif_extra_info, flags); O(netif_extra_info, u.gso.size);
                O(netif_extra_info, u.gso.type); O(netif_extra_info, u.gso.pad); O(netif_extra_info, u.gso.features);
                O(netif_extra_info, u.mcast.addr); O(netif_extra_info, u.hash.type); O(netif_extra_info, u.hash.algorithm);
                O(netif_extra_info, u.hash.value);
                S(blkif_request_segment); O(blkif_request_segment, gref); O(blkif_request_segment, first_sect);
                O(blkif_request_segment, last_sect);
                S(blkif_request); O(blkif_request, operation); O(blkif_request, nr_segments); O(blkif_request, handle);
                O(blkif_request, id); O(blkif_request, sector_number); O(blkif_request, seg);
                S(blkif_response); O(blkif_response, id); O(blkif_response, operation); O(blkif_response, status);
                P(BLKIF_MAX_SEGMENTS_PER_REQUEST); P(BLKIF_OP_READ); P(BLKIF_OP_WRITE); P(BLKIF_OP_WRITE_BARRIER);
                P(BLKIF_OP_FLUSH_DISKCACHE); P(BLKIF_OP_DISCARD); P(BLKIF_OP_INDIRECT);
                P(BLKIF_RSP_EOPNOTSUPP); P(BLKIF_RSP_ERROR); P(BLKIF_RSP_OKAY);
                P(NETTXF_csum_blank); P(NETTXF_data_validated); P(NETTXF_more_data); P(NETTXF_extra_info);
                P(NETRXF_data_validated); P(NETRXF_csum_blank); P(NETRXF_more_data); P(NETRXF_extra_info); P(NETRXF_gso_prefix);
                P(XEN_NETIF_EXTRA_TYPE_GSO); P(XEN_NETIF_EXTRA_TYPE_MCAST_ADD); P(XEN_NETIF_EXTRA_TYPE_MCAST_DEL);
                P(XEN_NETIF_EXTRA_TYPE_HASH); P(XEN_NETIF_EXTRA_FLAG_MORE); P(XEN_NETIF_GSO_TYPE_TCPV4); P(XEN_NETIF_GSO_TYPE_TCPV6);
                P(NETIF_RSP_DROPPED); P(NETIF_RSP_ERROR); P(NETIF_RSP_OKAY); P(NETIF_RSP_NULL);
                return 0;
            }
            """;
        CHeaderValues c = await CHeaderValues.CompileAndRunAsync(_temp.Path, "ringheaders", source);

        void Size<T>(string cStruct)
            where T : unmanaged => c.Check($"sizeof(struct {cStruct})", Unsafe.SizeOf<T>());

        void Ring<TRequest, TResponse>(string name)
            where TRequest : unmanaged
            where TResponse : unmanaged
        {
            int entry = SharedRingLayout.EntrySize<TRequest, TResponse>();
            c.Check($"sizeof(struct {name}_sring)", SharedRingLayout.EntriesOffset + entry); // ring[1]
            c.Check($"sizeof(union {name}_sring_entry)", entry);
            c.Check($"offsetof(struct {name}_sring, req_prod)", SharedRingLayout.RequestProducerOffset);
            c.Check($"offsetof(struct {name}_sring, req_event)", SharedRingLayout.RequestEventOffset);
            c.Check($"offsetof(struct {name}_sring, rsp_prod)", SharedRingLayout.ResponseProducerOffset);
            c.Check($"offsetof(struct {name}_sring, rsp_event)", SharedRingLayout.ResponseEventOffset);
            c.Check($"offsetof(struct {name}_sring, pvt)", SharedRingLayout.PrivateOffset);
            c.Check($"offsetof(struct {name}_sring, __pad)", SharedRingLayout.PadOffset);
            c.Check($"offsetof(struct {name}_sring, ring)", SharedRingLayout.EntriesOffset);
            for (int order = 0; order <= 4; order++)
            {
                c.Check($"__CONST_RING_SIZE({name}, {4096 << order})", SharedRingLayout.RingSize<TRequest, TResponse>(order));
            }
        }

        Ring<BlkifRequest, BlkifResponse>("blkif");
        Ring<NetifTxRequest, NetifTxResponse>("netif_tx");
        Ring<NetifRxRequest, NetifRxResponse>("netif_rx");

        var tx = default(NetifTxRequest);
        Size<NetifTxRequest>("netif_tx_request");
        c.Check("offsetof(struct netif_tx_request, gref)", Offset(ref tx, ref tx.Gref));
        c.Check("offsetof(struct netif_tx_request, offset)", Offset(ref tx, ref tx.Offset));
        c.Check("offsetof(struct netif_tx_request, flags)", Offset(ref tx, ref tx.Flags));
        c.Check("offsetof(struct netif_tx_request, id)", Offset(ref tx, ref tx.Id));
        c.Check("offsetof(struct netif_tx_request, size)", Offset(ref tx, ref tx.Size));
        var txr = default(NetifTxResponse);
        Size<NetifTxResponse>("netif_tx_response");
        c.Check("offsetof(struct netif_tx_response, id)", Offset(ref txr, ref txr.Id));
        c.Check("offsetof(struct netif_tx_response, status)", Offset(ref txr, ref txr.Status));
        var rx = default(NetifRxRequest);
        Size<NetifRxRequest>("netif_rx_request");
        c.Check("offsetof(struct netif_rx_request, id)", Offset(ref rx, ref rx.Id));
        c.Check("offsetof(struct netif_rx_request, pad)", Offset(ref rx, ref rx.Pad));
        c.Check("offsetof(struct netif_rx_request, gref)", Offset(ref rx, ref rx.Gref));
        var rxr = default(NetifRxResponse);
        Size<NetifRxResponse>("netif_rx_response");
        c.Check("offsetof(struct netif_rx_response, id)", Offset(ref rxr, ref rxr.Id));
        c.Check("offsetof(struct netif_rx_response, offset)", Offset(ref rxr, ref rxr.Offset));
        c.Check("offsetof(struct netif_rx_response, flags)", Offset(ref rxr, ref rxr.Flags));
        c.Check("offsetof(struct netif_rx_response, status)", Offset(ref rxr, ref rxr.Status));
        var extra = default(NetifExtraInfo);
        Size<NetifExtraInfo>("netif_extra_info");
        c.Check("offsetof(struct netif_extra_info, type)", Offset(ref extra, ref extra.Type));
        c.Check("offsetof(struct netif_extra_info, flags)", Offset(ref extra, ref extra.Flags));
        c.Check("offsetof(struct netif_extra_info, u.gso.size)", Offset(ref extra, ref extra.GsoSize));
        c.Check("offsetof(struct netif_extra_info, u.gso.type)", Offset(ref extra, ref extra.GsoType));
        c.Check("offsetof(struct netif_extra_info, u.gso.pad)", Offset(ref extra, ref extra.GsoPad));
        c.Check("offsetof(struct netif_extra_info, u.gso.features)", Offset(ref extra, ref extra.GsoFeatures));
        c.Check("offsetof(struct netif_extra_info, u.mcast.addr)", MulticastAddressOffset());
        c.Check("offsetof(struct netif_extra_info, u.hash.type)", Offset(ref extra, ref extra.HashType));
        c.Check("offsetof(struct netif_extra_info, u.hash.algorithm)", Offset(ref extra, ref extra.HashAlgorithm));
        c.Check("offsetof(struct netif_extra_info, u.hash.value)", HashValueOffset());
        var segment = default(BlkifRequestSegment);
        Size<BlkifRequestSegment>("blkif_request_segment");
        c.Check("offsetof(struct blkif_request_segment, gref)", Offset(ref segment, ref segment.Gref));
        c.Check("offsetof(struct blkif_request_segment, first_sect)", Offset(ref segment, ref segment.FirstSector));
        c.Check("offsetof(struct blkif_request_segment, last_sect)", Offset(ref segment, ref segment.LastSector));
        var blk = default(BlkifRequest);
        Size<BlkifRequest>("blkif_request");
        c.Check("offsetof(struct blkif_request, operation)", Offset(ref blk, ref blk.Operation));
        c.Check("offsetof(struct blkif_request, nr_segments)", Offset(ref blk, ref blk.SegmentCount));
        c.Check("offsetof(struct blkif_request, handle)", Offset(ref blk, ref blk.Handle));
        c.Check("offsetof(struct blkif_request, id)", Offset(ref blk, ref blk.Id));
        c.Check("offsetof(struct blkif_request, sector_number)", Offset(ref blk, ref blk.SectorNumber));
        c.Check("offsetof(struct blkif_request, seg)", Offset(ref blk, ref blk.Segments[0]));
        var blkr = default(BlkifResponse);
        Size<BlkifResponse>("blkif_response");
        c.Check("offsetof(struct blkif_response, id)", Offset(ref blkr, ref blkr.Id));
        c.Check("offsetof(struct blkif_response, operation)", Offset(ref blkr, ref blkr.Operation));
        c.Check("offsetof(struct blkif_response, status)", Offset(ref blkr, ref blkr.Status));

        c.Check("BLKIF_MAX_SEGMENTS_PER_REQUEST", BlkifRequest.MaxSegments);
        c.Check("BLKIF_OP_READ", BlkifRequest.OperationRead);
        c.Check("BLKIF_OP_WRITE", BlkifRequest.OperationWrite);
        c.Check("BLKIF_OP_WRITE_BARRIER", BlkifRequest.OperationWriteBarrier);
        c.Check("BLKIF_OP_FLUSH_DISKCACHE", BlkifRequest.OperationFlushDiskCache);
        c.Check("BLKIF_OP_DISCARD", BlkifRequest.OperationDiscard);
        c.Check("BLKIF_OP_INDIRECT", BlkifRequest.OperationIndirect);
        c.Check("BLKIF_RSP_EOPNOTSUPP", BlkifResponse.StatusNotSupported);
        c.Check("BLKIF_RSP_ERROR", BlkifResponse.StatusError);
        c.Check("BLKIF_RSP_OKAY", BlkifResponse.StatusOkay);
        c.Check("NETTXF_csum_blank", NetifFlags.TxChecksumBlank);
        c.Check("NETTXF_data_validated", NetifFlags.TxDataValidated);
        c.Check("NETTXF_more_data", NetifFlags.TxMoreData);
        c.Check("NETTXF_extra_info", NetifFlags.TxExtraInfo);
        c.Check("NETRXF_data_validated", NetifFlags.RxDataValidated);
        c.Check("NETRXF_csum_blank", NetifFlags.RxChecksumBlank);
        c.Check("NETRXF_more_data", NetifFlags.RxMoreData);
        c.Check("NETRXF_extra_info", NetifFlags.RxExtraInfo);
        c.Check("NETRXF_gso_prefix", NetifFlags.RxGsoPrefix);
        c.Check("XEN_NETIF_EXTRA_TYPE_GSO", NetifFlags.ExtraTypeGso);
        c.Check("XEN_NETIF_EXTRA_TYPE_MCAST_ADD", NetifFlags.ExtraTypeMulticastAdd);
        c.Check("XEN_NETIF_EXTRA_TYPE_MCAST_DEL", NetifFlags.ExtraTypeMulticastDelete);
        c.Check("XEN_NETIF_EXTRA_TYPE_HASH", NetifFlags.ExtraTypeHash);
        c.Check("XEN_NETIF_EXTRA_FLAG_MORE", NetifFlags.ExtraFlagMore);
        c.Check("XEN_NETIF_GSO_TYPE_TCPV4", NetifFlags.GsoTypeTcpV4);
        c.Check("XEN_NETIF_GSO_TYPE_TCPV6", NetifFlags.GsoTypeTcpV6);
        c.Check("NETIF_RSP_DROPPED", NetifFlags.ResponseDropped);
        c.Check("NETIF_RSP_ERROR", NetifFlags.ResponseError);
        c.Check("NETIF_RSP_OKAY", NetifFlags.ResponseOkay);
        c.Check("NETIF_RSP_NULL", NetifFlags.ResponseNull);

        c.AssertAllMatch();
    }

    [Fact]
    public void RingSizeRoundsDownToAPowerOfTwoAsRingHDoes()
    {
        // __RD32 of (size - 64) / entry: blkif's 112-byte entries, 36 fit a page, 32 used; 4 pages fit 145, 128 used.
        Assert.Equal(32, SharedRingLayout.RingSize(4096, 112));
        Assert.Equal(128, SharedRingLayout.RingSize(4 * 4096, 112));
        Assert.Equal(1, SharedRingLayout.RingSize(4096, 4000));
        Assert.Equal(0, SharedRingLayout.RingSize(4096, 4096));
        Assert.Equal(256, SharedRingLayout.RingSize(4096, 12));
    }

    private static unsafe long MulticastAddressOffset()
    {
        var extra = default(NetifExtraInfo);
        return Offset(ref extra, ref extra.MulticastAddress[0]);
    }

    private static unsafe long HashValueOffset()
    {
        var extra = default(NetifExtraInfo);
        return Offset(ref extra, ref extra.HashValue[0]);
    }

    private static long Offset<T, TField>(ref T value, ref TField field) =>
        Unsafe.ByteOffset(ref Unsafe.As<T, byte>(ref value), ref Unsafe.As<TField, byte>(ref field));
}
