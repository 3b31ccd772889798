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
        string program = await CCompiler.CompileAsync(_temp.Path, "ringheaders", source);
        ProcessResult result = (await ExternalProcess.RunAsync(program, [])).EnsureSuccess("ringheaders");
        Dictionary<string, long> c = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('='))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture));
        var mismatches = new List<string>();
        int checkedCount = 0;

        void Check(string name, long binding)
        {
            checkedCount++;
            if (!c.TryGetValue(name, out long header))
            {
                mismatches.Add($"{name}: not printed by the C program");
            }
            else if (header != binding)
            {
                mismatches.Add($"{name}: the header says {header}, the binding uses {binding}");
            }
        }

        void Size<T>(string cStruct)
            where T : unmanaged => Check($"sizeof(struct {cStruct})", Unsafe.SizeOf<T>());

        void Ring<TRequest, TResponse>(string name)
            where TRequest : unmanaged
            where TResponse : unmanaged
        {
            int entry = SharedRingLayout.EntrySize<TRequest, TResponse>();
            Check($"sizeof(struct {name}_sring)", SharedRingLayout.EntriesOffset + entry); // ring[1]
            Check($"sizeof(union {name}_sring_entry)", entry);
            Check($"offsetof(struct {name}_sring, req_prod)", SharedRingLayout.RequestProducerOffset);
            Check($"offsetof(struct {name}_sring, req_event)", SharedRingLayout.RequestEventOffset);
            Check($"offsetof(struct {name}_sring, rsp_prod)", SharedRingLayout.ResponseProducerOffset);
            Check($"offsetof(struct {name}_sring, rsp_event)", SharedRingLayout.ResponseEventOffset);
            Check($"offsetof(struct {name}_sring, pvt)", SharedRingLayout.PrivateOffset);
            Check($"offsetof(struct {name}_sring, __pad)", SharedRingLayout.PadOffset);
            Check($"offsetof(struct {name}_sring, ring)", SharedRingLayout.EntriesOffset);
            for (int order = 0; order <= 4; order++)
            {
                Check($"__CONST_RING_SIZE({name}, {4096 << order})", SharedRingLayout.RingSize<TRequest, TResponse>(order));
            }
        }

        Ring<BlkifRequest, BlkifResponse>("blkif");
        Ring<NetifTxRequest, NetifTxResponse>("netif_tx");
        Ring<NetifRxRequest, NetifRxResponse>("netif_rx");

        var tx = default(NetifTxRequest);
        Size<NetifTxRequest>("netif_tx_request");
        Check("offsetof(struct netif_tx_request, gref)", Offset(ref tx, ref tx.Gref));
        Check("offsetof(struct netif_tx_request, offset)", Offset(ref tx, ref tx.Offset));
        Check("offsetof(struct netif_tx_request, flags)", Offset(ref tx, ref tx.Flags));
        Check("offsetof(struct netif_tx_request, id)", Offset(ref tx, ref tx.Id));
        Check("offsetof(struct netif_tx_request, size)", Offset(ref tx, ref tx.Size));
        var txr = default(NetifTxResponse);
        Size<NetifTxResponse>("netif_tx_response");
        Check("offsetof(struct netif_tx_response, id)", Offset(ref txr, ref txr.Id));
        Check("offsetof(struct netif_tx_response, status)", Offset(ref txr, ref txr.Status));
        var rx = default(NetifRxRequest);
        Size<NetifRxRequest>("netif_rx_request");
        Check("offsetof(struct netif_rx_request, id)", Offset(ref rx, ref rx.Id));
        Check("offsetof(struct netif_rx_request, pad)", Offset(ref rx, ref rx.Pad));
        Check("offsetof(struct netif_rx_request, gref)", Offset(ref rx, ref rx.Gref));
        var rxr = default(NetifRxResponse);
        Size<NetifRxResponse>("netif_rx_response");
        Check("offsetof(struct netif_rx_response, id)", Offset(ref rxr, ref rxr.Id));
        Check("offsetof(struct netif_rx_response, offset)", Offset(ref rxr, ref rxr.Offset));
        Check("offsetof(struct netif_rx_response, flags)", Offset(ref rxr, ref rxr.Flags));
        Check("offsetof(struct netif_rx_response, status)", Offset(ref rxr, ref rxr.Status));
        var extra = default(NetifExtraInfo);
        Size<NetifExtraInfo>("netif_extra_info");
        Check("offsetof(struct netif_extra_info, type)", Offset(ref extra, ref extra.Type));
        Check("offsetof(struct netif_extra_info, flags)", Offset(ref extra, ref extra.Flags));
        Check("offsetof(struct netif_extra_info, u.gso.size)", Offset(ref extra, ref extra.GsoSize));
        Check("offsetof(struct netif_extra_info, u.gso.type)", Offset(ref extra, ref extra.GsoType));
        Check("offsetof(struct netif_extra_info, u.gso.pad)", Offset(ref extra, ref extra.GsoPad));
        Check("offsetof(struct netif_extra_info, u.gso.features)", Offset(ref extra, ref extra.GsoFeatures));
        Check("offsetof(struct netif_extra_info, u.mcast.addr)", MulticastAddressOffset());
        Check("offsetof(struct netif_extra_info, u.hash.type)", Offset(ref extra, ref extra.HashType));
        Check("offsetof(struct netif_extra_info, u.hash.algorithm)", Offset(ref extra, ref extra.HashAlgorithm));
        Check("offsetof(struct netif_extra_info, u.hash.value)", HashValueOffset());
        var segment = default(BlkifRequestSegment);
        Size<BlkifRequestSegment>("blkif_request_segment");
        Check("offsetof(struct blkif_request_segment, gref)", Offset(ref segment, ref segment.Gref));
        Check("offsetof(struct blkif_request_segment, first_sect)", Offset(ref segment, ref segment.FirstSector));
        Check("offsetof(struct blkif_request_segment, last_sect)", Offset(ref segment, ref segment.LastSector));
        var blk = default(BlkifRequest);
        Size<BlkifRequest>("blkif_request");
        Check("offsetof(struct blkif_request, operation)", Offset(ref blk, ref blk.Operation));
        Check("offsetof(struct blkif_request, nr_segments)", Offset(ref blk, ref blk.SegmentCount));
        Check("offsetof(struct blkif_request, handle)", Offset(ref blk, ref blk.Handle));
        Check("offsetof(struct blkif_request, id)", Offset(ref blk, ref blk.Id));
        Check("offsetof(struct blkif_request, sector_number)", Offset(ref blk, ref blk.SectorNumber));
        Check("offsetof(struct blkif_request, seg)", Offset(ref blk, ref blk.Segments[0]));
        var blkr = default(BlkifResponse);
        Size<BlkifResponse>("blkif_response");
        Check("offsetof(struct blkif_response, id)", Offset(ref blkr, ref blkr.Id));
        Check("offsetof(struct blkif_response, operation)", Offset(ref blkr, ref blkr.Operation));
        Check("offsetof(struct blkif_response, status)", Offset(ref blkr, ref blkr.Status));

        Check("BLKIF_MAX_SEGMENTS_PER_REQUEST", BlkifRequest.MaxSegments);
        Check("BLKIF_OP_READ", BlkifRequest.OperationRead);
        Check("BLKIF_OP_WRITE", BlkifRequest.OperationWrite);
        Check("BLKIF_OP_WRITE_BARRIER", BlkifRequest.OperationWriteBarrier);
        Check("BLKIF_OP_FLUSH_DISKCACHE", BlkifRequest.OperationFlushDiskCache);
        Check("BLKIF_OP_DISCARD", BlkifRequest.OperationDiscard);
        Check("BLKIF_OP_INDIRECT", BlkifRequest.OperationIndirect);
        Check("BLKIF_RSP_EOPNOTSUPP", BlkifResponse.StatusNotSupported);
        Check("BLKIF_RSP_ERROR", BlkifResponse.StatusError);
        Check("BLKIF_RSP_OKAY", BlkifResponse.StatusOkay);
        Check("NETTXF_csum_blank", NetifFlags.TxChecksumBlank);
        Check("NETTXF_data_validated", NetifFlags.TxDataValidated);
        Check("NETTXF_more_data", NetifFlags.TxMoreData);
        Check("NETTXF_extra_info", NetifFlags.TxExtraInfo);
        Check("NETRXF_data_validated", NetifFlags.RxDataValidated);
        Check("NETRXF_csum_blank", NetifFlags.RxChecksumBlank);
        Check("NETRXF_more_data", NetifFlags.RxMoreData);
        Check("NETRXF_extra_info", NetifFlags.RxExtraInfo);
        Check("NETRXF_gso_prefix", NetifFlags.RxGsoPrefix);
        Check("XEN_NETIF_EXTRA_TYPE_GSO", NetifFlags.ExtraTypeGso);
        Check("XEN_NETIF_EXTRA_TYPE_MCAST_ADD", NetifFlags.ExtraTypeMulticastAdd);
        Check("XEN_NETIF_EXTRA_TYPE_MCAST_DEL", NetifFlags.ExtraTypeMulticastDelete);
        Check("XEN_NETIF_EXTRA_TYPE_HASH", NetifFlags.ExtraTypeHash);
        Check("XEN_NETIF_EXTRA_FLAG_MORE", NetifFlags.ExtraFlagMore);
        Check("XEN_NETIF_GSO_TYPE_TCPV4", NetifFlags.GsoTypeTcpV4);
        Check("XEN_NETIF_GSO_TYPE_TCPV6", NetifFlags.GsoTypeTcpV6);
        Check("NETIF_RSP_DROPPED", NetifFlags.ResponseDropped);
        Check("NETIF_RSP_ERROR", NetifFlags.ResponseError);
        Check("NETIF_RSP_OKAY", NetifFlags.ResponseOkay);
        Check("NETIF_RSP_NULL", NetifFlags.ResponseNull);

        Assert.True(mismatches.Count == 0, string.Join(Environment.NewLine, mismatches));

        // Every value the C program printed was compared: a value added to one side only does not pass unnoticed.
        Assert.Equal(c.Count, checkedCount);
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
