using VirtualDevices.Devices;
using VirtualDevices.Network;
using VirtualDevices.Network.Capture;
using VirtualDevices.Network.Frames;

namespace VirtualDevices.Tests.Network.Capture;

/// <summary>A capture of devices while they run: beside their listeners, both directions, drops counted when the disk is slow.</summary>
public sealed class NetworkCaptureTests
{
    [Fact]
    public async Task ACaptureSeesBothWaysWithoutTakingFramesFromTheListener()
    {
        using var dir = new TempDirectory();
        string path = dir.File("link.pcapng");
        var (a, b) = MemoryNetworkDevice.CreatePair(firstName: "capa", secondName: "capb");
        await using (a)
        await using (b)
        {
            using FrameReader listener = b.OpenListener();
            NetworkCapture capture = NetworkCapture.Start([a, b], path, overwrite: false);
            var sent = new List<byte[]>();
            for (int i = 0; i < 20; i++)
            {
                byte[] frame = FrameBuilder.Raw(b.MacAddress, a.MacAddress, 0x88b5, BitConverter.GetBytes(i));
                sent.Add(frame);
                await a.WriteAsync(frame);
            }

            // The listener still has every frame.
            var received = new List<byte[]>();
            while (listener.TryRead(out FrameLease lease))
            {
                using (lease)
                {
                    received.Add(lease.Span.ToArray());
                }
            }

            Assert.Equal(sent, received);
            await capture.StopAsync();
            Assert.Equal(40, capture.Frames);
            Assert.Equal(0, capture.Dropped);
            Assert.Null(capture.Error);
        }

        // tshark: 20 frames out of capa, 20 into capb, the same bytes in each direction.
        string[][] rows = await Tshark.FieldsAsync(path, ["frame.interface_name", "frame.packet_flags_direction", "frame.len"]);
        Assert.Equal(40, rows.Length);
        Assert.Equal(20, rows.Count(r => r[0] == "capa" && Tshark.Direction(r[1]) == FrameDirection.Outbound));
        Assert.Equal(20, rows.Count(r => r[0] == "capb" && Tshark.Direction(r[1]) == FrameDirection.Inbound));
        using var reader = CaptureFileReader.Open(path);
        List<EthernetFrame> frames = reader.ReadFrames().ToList();
        Assert.Equal(frames.Where(f => f.Device == "capa").Select(f => f.Data), frames.Where(f => f.Device == "capb").Select(f => f.Data));
        Assert.All(frames.Where(f => f.Device == "capa"), f => Assert.Equal(FrameDirection.Outbound, f.Direction));
    }

    [Fact]
    public async Task ASlowDiskCostsCountedDropsNeverTheListenersFrames()
    {
        using var dir = new TempDirectory();
        string path = dir.File("slow.pcapng");
        var (a, b) = MemoryNetworkDevice.CreatePair();
        await using (a)
        await using (b)
        {
            using FrameReader listener = b.OpenListener();
            var disk = new StalledStream(File.Create(path));
            NetworkCapture capture = NetworkCapture.Start([b], new PcapNgWriter(disk, leaveOpen: false, path), path, FrameDirection.Inbound, queueLength: 4);
            disk.Stall();
            for (int i = 0; i < 50; i++)
            {
                await a.WriteAsync(FrameBuilder.Raw(b.MacAddress, a.MacAddress, 0x88b5, BitConverter.GetBytes(i)));
            }

            int listened = 0;
            while (listener.TryRead(out FrameLease lease))
            {
                lease.Dispose();
                listened++;
            }

            disk.Resume();
            await capture.StopAsync();
            Assert.Equal(50, listened);
            Assert.True(capture.Dropped > 0, "the stalled disk made the tap drop frames");
            Assert.Equal(50, capture.Frames + capture.Dropped);
            Assert.Equal(capture.Dropped, ((NetworkStatistics)b.GetStatistics()).TapDrops);
            Assert.Equal(0, ((NetworkStatistics)b.GetStatistics()).RxDrops);
            using var reader = CaptureFileReader.Open(path);
            Assert.Equal(capture.Frames, reader.ReadFrames().Count());
        }
    }

    [Fact]
    public async Task OutboundTapsSeeSentFramesOnlyWhileOpen()
    {
        var (a, b) = MemoryNetworkDevice.CreatePair();
        await using (a)
        await using (b)
        {
            byte[] frame = FrameBuilder.Raw(b.MacAddress, a.MacAddress, 0x88b5, [1]);
            await a.WriteAsync(frame);
            using (FrameReader tap = a.OpenTap(8, FrameDirection.Outbound))
            {
                await a.WriteAsync(new ReadOnlyMemory<byte>[] { frame.AsMemory(0, 14), frame.AsMemory(14) });
                Assert.True(tap.TryRead(out FrameLease seen));
                using (seen)
                {
                    Assert.Equal(frame, seen.Span.ToArray());
                    Assert.Equal(FrameDirection.Outbound, seen.Direction);
                }

                Assert.False(tap.TryRead(out _));
            }

            Assert.Throws<ArgumentOutOfRangeException>(() => a.OpenTap(8, FrameDirection.Unknown));
        }
    }

    /// <summary>A file whose writes block while stalled (a disk slower than the link).</summary>
    private sealed class StalledStream(Stream inner) : Stream
    {
        private readonly ManualResetEventSlim _open = new(true);

        public void Stall() => _open.Reset();

        public void Resume() => _open.Set();

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            _open.Wait(TimeSpan.FromSeconds(30));
            inner.Write(buffer, offset, count);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                _open.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
