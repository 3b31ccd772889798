using VirtualDevices.Xen;
using VirtualDevices.Xen.Grants;

namespace VirtualDevices.XenLab.Devices;

/// <summary>
/// Grants in dom0: pages shared with domain 0 itself through /dev/xen/gntalloc, mapped back through /dev/xen/gntdev,
/// written through one mapping and read through the other; read-only grants, bad references, several pages, and the
/// unmap notifications of both devices (with the event channel pair of <see cref="EventChannelChecks"/>).
/// </summary>
internal sealed class GrantChecks(Checks checks, EventChannelChecks events) : IDisposable
{
    private const ushort Dom0 = 0;

    private GrantAllocator? _allocator;
    private GrantMapper? _mapper;

    public void Run()
    {
        int page = Environment.SystemPageSize;
        checks.Run("devices.grant.open", () =>
        {
            _allocator = GrantAllocator.Open();
            _mapper = GrantMapper.Open();
            return $"{_allocator.Path} and {_mapper.Path}; pages of {page} bytes";
        });

        checks.Run("devices.grant.share-map-write-read", () =>
        {
            var (allocator, mapper) = Devices();
            using GrantShare share = allocator.Share(Dom0, 1, writable: true);
            Expect.True(share.References.Length == 1, "one reference");
            Expect.True(share.Memory.Span.IndexOfAnyExcept((byte)0) < 0, "a new granted page is zeroed");
            using GrantMapping mapping = mapper.Map(Dom0, share.References, writable: true);

            byte[] first = Pattern(page, 1);
            first.CopyTo(share.Memory.Span);
            Expect.True(mapping.Memory.Span.SequenceEqual(first), "what the granting side wrote is read through the mapping");
            byte[] second = Pattern(page, 2);
            second.CopyTo(mapping.Memory.Span);
            Expect.True(share.Memory.Span.SequenceEqual(second), "what the mapping side wrote is read through the share");
            return $"gntalloc ref {share.References[0]} mapped by gntdev; a page each way";
        });

        checks.Run("devices.grant.several-pages-in-order", () =>
        {
            var (allocator, mapper) = Devices();
            const int pages = 4;
            using GrantShare share = allocator.Share(Dom0, pages, writable: true);
            for (int i = 0; i < pages; i++)
            {
                share.Memory.Span.Slice(i * page, page).Fill((byte)(0x10 + i));
            }

            // The references mapped in reverse order: page i of the mapping is page (3 - i) of the share.
            uint[] reversed = share.References.ToArray().Reverse().ToArray();
            using GrantMapping mapping = mapper.Map(Dom0, reversed, writable: false);
            for (int i = 0; i < pages; i++)
            {
                Span<byte> mapped = mapping.Memory.Span.Slice(i * page, page);
                byte expected = (byte)(0x10 + (pages - 1 - i));
                Expect.True(mapped.IndexOfAnyExcept(expected) < 0, $"page {i} of the mapping holds share page {pages - 1 - i}");
            }

            return $"refs {string.Join(',', share.References.ToArray())} mapped in reverse order, read-only";
        });

        checks.Run("devices.grant.read-only", () =>
        {
            var (allocator, mapper) = Devices();
            using GrantShare share = allocator.Share(Dom0, 1, writable: false);
            share.Memory.Span.Fill(0x5A);
            var error = Expect.Throws<XenDeviceException>(() => mapper.Map(Dom0, share.References, writable: true).Dispose());
            Expect.True(error.ErrorId == DeviceErrorIds.Xen.GrantMapFailed, $"a writable map of a read-only grant is {DeviceErrorIds.Xen.GrantMapFailed} (was {error.ErrorId})");
            using GrantMapping mapping = mapper.Map(Dom0, share.References, writable: false);
            Expect.True(mapping.Memory.Span.IndexOfAnyExcept((byte)0x5A) < 0, "the read-only mapping reads the page");
            return $"writable map refused ({error.Message}); read-only map reads";
        });

        checks.Run("devices.grant.bad-reference", () =>
        {
            var (_, mapper) = Devices();
            var error = Expect.Throws<XenDeviceException>(() => mapper.Map(Dom0, [1_000_000], writable: true).Dispose());
            Expect.True(error.ErrorId == DeviceErrorIds.Xen.GrantMapFailed, $"{DeviceErrorIds.Xen.GrantMapFailed} (was {error.ErrorId})");
            return error.Message;
        });

        checks.Run("devices.gntdev.unmap-notify", () =>
        {
            var (allocator, mapper) = Devices();
            var (a, portA, b, portB) = events.Pair ?? throw new SkipCheckException("no bound event channel pair");
            using GrantShare share = allocator.Share(Dom0, 1, writable: true);
            share.Memory.Span[100] = 0xAA;
            GrantMapping mapping = mapper.Map(Dom0, share.References, writable: true);
            mapping.SetUnmapNotify(100, clearByte: true, eventPort: portB);
            Expect.True(mapping.Memory.Span[100] == 0xAA, "the mapping reads the byte before the unmap");
            mapping.Dispose();
            Expect.True(share.Memory.Span[100] == 0, $"the byte was cleared when the mapping went (it is {share.Memory.Span[100]:x2})");
            EventChannelChecks.ExpectEvent(a, portA);
            EventChannelChecks.ExpectQuiet(a, b);
            return $"mapping gone: byte 100 cleared and an event sent on {portB}, received on {portA}";
        });

        checks.Run("devices.gntalloc.unmap-notify-and-page-lifetime", () =>
        {
            var (allocator, mapper) = Devices();
            var (a, portA, b, portB) = events.Pair ?? throw new SkipCheckException("no bound event channel pair");
            GrantShare share = allocator.Share(Dom0, 1, writable: true);
            byte[] pattern = Pattern(page, 3);
            pattern[7] = 0xBB;
            pattern.CopyTo(share.Memory.Span);
            using GrantMapping mapping = mapper.Map(Dom0, share.References, writable: true);
            share.SetUnmapNotify(7, clearByte: true, eventPort: portA);
            share.Dispose();

            // The granting side let go while the page is still mapped: the byte is cleared and the event sent, but
            // the page itself stays, whole, until the mapping goes.
            EventChannelChecks.ExpectEvent(b, portB);
            Expect.True(mapping.Memory.Span[7] == 0, $"byte 7 was cleared when the share went (it is {mapping.Memory.Span[7]:x2})");
            pattern[7] = 0;
            Expect.True(mapping.Memory.Span.SequenceEqual(pattern), "the rest of the page is intact while still mapped");
            EventChannelChecks.ExpectQuiet(a, b);
            return $"share gone: byte 7 cleared, event on {portA} received on {portB}, the page kept while mapped";
        });

        checks.Run("devices.grant.many-shares", () =>
        {
            var (allocator, mapper) = Devices();
            const int count = 64;
            var shares = new List<GrantShare>();
            var mappings = new List<GrantMapping>();
            try
            {
                for (int i = 0; i < count; i++)
                {
                    GrantShare share = allocator.Share(Dom0, 1, writable: true);
                    shares.Add(share);
                    share.Memory.Span.Fill((byte)i);
                    mappings.Add(mapper.Map(Dom0, share.References, writable: true));
                }

                for (int i = 0; i < count; i++)
                {
                    Expect.True(mappings[i].Memory.Span.IndexOfAnyExcept((byte)i) < 0, $"mapping {i} reads share {i}");
                }
            }
            finally
            {
                mappings.ForEach(m => m.Dispose());
                shares.ForEach(s => s.Dispose());
            }

            // Everything was given back: gntalloc counts every page granted against its limit of 1024 until it is
            // released, so 1000 more at once fit only if the 64 are gone.
            const int many = 1000;
            using GrantShare again = allocator.Share(Dom0, many, writable: true);
            Expect.True(again.References.Length == many, $"{many} references");
            return $"{count} pages shared and mapped one by one, released, then {many} granted at once (the limit is 1024)";
        });
    }

    public void Dispose()
    {
        _mapper?.Dispose();
        _allocator?.Dispose();
    }

    private (GrantAllocator Allocator, GrantMapper Mapper) Devices() =>
        _allocator is not null && _mapper is not null ? (_allocator, _mapper) : throw new SkipCheckException("the grant devices did not open");

    private static byte[] Pattern(int size, int seed)
    {
        byte[] bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
