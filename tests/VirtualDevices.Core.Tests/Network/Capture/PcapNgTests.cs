using System.Globalization;
using System.Net;
using VirtualDevices.Network;
using VirtualDevices.Network.Capture;
using VirtualDevices.Network.Frames;

namespace VirtualDevices.Tests.Network.Capture;

/// <summary>Our pcapng files as tshark reads them, and tshark's files (pcap and pcapng) as we read them.</summary>
public sealed class PcapNgTests
{
    private static readonly MacAddress A = MacAddress.Parse("02:00:00:00:00:0a");
    private static readonly MacAddress B = MacAddress.Parse("02:00:00:00:00:0b");

    /// <summary>Frames of every kind the decoder names, with distinct nanosecond timestamps and both directions.</summary>
    internal static List<(int Interface, long Nanoseconds, FrameDirection Direction, byte[] Data)> SampleFrames()
    {
        long t0 = 1_700_000_000_123_456_789;
        byte[][] frames =
        [
            FrameBuilder.ArpRequest(A, IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2")),
            FrameBuilder.ArpReply(B, IPAddress.Parse("10.0.0.2"), A, IPAddress.Parse("10.0.0.1")),
            FrameBuilder.IcmpEcho(B, A, IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2"), 0x1234, 1, "abcdefgh"u8),
            FrameBuilder.IcmpEcho(A, B, IPAddress.Parse("10.0.0.2"), IPAddress.Parse("10.0.0.1"), 0x1234, 1, "abcdefgh"u8, reply: true),
            FrameBuilder.Raw(B, A, 0x88b5, new byte[100]),
            FrameBuilder.Raw(B, A, 0x88b5, new byte[1500 - 4], vlanId: 100),
            Convert.FromHexString("020000000002020000000001" + "0800" + "4500001c0000400040110000" + "0a000001" + "0a000002" + "c35304d20008" + "0000"),
            Convert.FromHexString("020000000002020000000001" + "0800" + "450000280000400040060000" + "0a000001" + "0a000002" + "c00004d20000000000000000" + "50020000" + "00000000"),
            Convert.FromHexString("020000000002020000000001" + "86dd" + "60000000000c3aff" + "fe800000000000000000000000000001" + "ff020000000000000000000000000001" + "8000000000010001" + "61626364"),
        ];
        return frames.Select((f, i) => (i % 2, t0 + (i * 1_000_001_001L), i % 3 == 2 ? FrameDirection.Unknown : (FrameDirection)(1 + (i % 2)), f)).ToList();
    }

    internal static string WriteSample(TempDirectory dir, string name = "ours.pcapng")
    {
        string path = dir.File(name);
        using PcapNgWriter writer = PcapNgWriter.Create(path, overwrite: false);
        Assert.Equal(0, writer.AddInterface("net0"));
        Assert.Equal(1, writer.AddInterface("net1"));
        foreach ((int face, long ns, FrameDirection direction, byte[] data) in SampleFrames())
        {
            writer.WriteFrame(face, ns, direction, data);
        }

        return path;
    }

    [Fact]
    public async Task TsharkReadsOurPcapNgAsTheSameFrames()
    {
        using var dir = new TempDirectory();
        string path = WriteSample(dir);
        var expected = SampleFrames();
        string[][] rows = await Tshark.FieldsAsync(path, ["frame.interface_name", "frame.time_epoch", "frame.len", "frame.cap_len", "frame.packet_flags_direction"]);
        Assert.Equal(expected.Count, rows.Length);
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.Equal(expected[i].Interface == 0 ? "net0" : "net1", rows[i][0]);
            Assert.Equal(expected[i].Nanoseconds, Tshark.EpochNanoseconds(rows[i][1]));
            Assert.Equal(expected[i].Data.Length.ToString(CultureInfo.InvariantCulture), rows[i][2]);
            Assert.Equal(rows[i][2], rows[i][3]);
            // tshark prints the direction bits in hex (0x00000001 inbound, 0x00000002 outbound), nothing when the EPB has no flags.
            Assert.Equal(expected[i].Direction, Tshark.Direction(rows[i][4]));
        }

        // The same bytes: tshark rewrites the file (its own writer), and every frame comes back identical.
        string copy = dir.File("tshark.pcapng");
        await Tshark.ConvertAsync(path, copy, "pcapng");
        using CaptureFileReader reader = CaptureFileReader.Open(copy);
        List<EthernetFrame> frames = reader.ReadFrames().ToList();
        Assert.Equal(expected.Select(e => e.Data), frames.Select(f => f.Data));
        Assert.Equal(expected.Select(e => e.Nanoseconds), frames.Select(f => f.UnixTimeNanoseconds));
        Assert.Equal(expected.Select(e => e.Direction), frames.Select(f => f.Direction));
        Assert.Equal(expected.Select(e => e.Interface == 0 ? "net0" : "net1"), frames.Select(f => f.Device));
    }

    [Theory]
    [InlineData("nsecpcap", 1)]
    [InlineData("pcap", 1000)]
    [InlineData("pcapng", 1)]
    public async Task WeReadWhatTsharkWrote(string format, long resolution)
    {
        using var dir = new TempDirectory();
        string ours = WriteSample(dir);
        string theirs = dir.File("theirs." + format);
        await Tshark.ConvertAsync(ours, theirs, format);
        using CaptureFileReader reader = CaptureFileReader.Open(theirs);
        List<EthernetFrame> frames = reader.ReadFrames().ToList();
        var expected = SampleFrames();
        Assert.Equal(expected.Select(e => e.Data), frames.Select(f => f.Data));
        Assert.Equal(expected.Select(e => e.Nanoseconds / resolution * resolution), frames.Select(f => f.UnixTimeNanoseconds));
        Assert.Equal(expected.Count, reader.Frames);
    }

    [Fact]
    public void BigEndianPcapIsRead()
    {
        // A big-endian microsecond pcap, as a SPARC or old PowerPC host wrote it: one 60-byte frame at 1.000002 s.
        byte[] frame = FrameBuilder.Raw(B, A, 0x88b5, [1, 2, 3]);
        byte[] file = Convert.FromHexString("a1b2c3d4" + "00020004" + "00000000" + "00000000" + "0000ffff" + "00000001"
            + "00000001" + "00000002" + "0000003c" + "0000003c" + Convert.ToHexString(frame));
        using var reader = new CaptureFileReader(new MemoryStream(file));
        EthernetFrame read = Assert.Single(reader.ReadFrames());
        Assert.Equal(frame, read.Data);
        Assert.Equal(1_000_002_000, read.UnixTimeNanoseconds);
    }

    [Fact]
    public void AFileCutShortGivesTheFramesBeforeTheCutThenATypedError()
    {
        using var dir = new TempDirectory();
        byte[] whole = File.ReadAllBytes(WriteSample(dir));
        int total = SampleFrames().Count;
        int everyCut = 0;
        // Every cut point: inside the headers, inside each block, at each block boundary.
        for (int cut = 1; cut < whole.Length; cut++)
        {
            using var reader = new CaptureFileReader(new MemoryStream(whole[..cut]));
            var frames = new List<EthernetFrame>();
            CaptureFileException? error = null;
            try
            {
                foreach (EthernetFrame frame in reader.ReadFrames())
                {
                    frames.Add(frame);
                }
            }
            catch (CaptureFileException e)
            {
                error = e;
            }

            // What was read is a prefix of the frames, each whole.
            Assert.Equal(SampleFrames().Take(frames.Count).Select(f => f.Data), frames.Select(f => f.Data));
            if (error is null)
            {
                everyCut++; // a cut on a block boundary is a shorter, valid file
                continue;
            }

            Assert.Equal(DeviceErrorIds.Capture.Truncated, error.ErrorId);
            Assert.Equal(frames.Count, error.Frames);
            Assert.True(frames.Count < total);
        }

        Assert.Equal(2 + total, everyCut); // after the section header, after each interface, and after each frame but the last
    }

    [Fact]
    public void AWriterFailingMidwayLeavesTheBlocksWrittenBeforeWhole()
    {
        using var dir = new TempDirectory();
        string path = dir.File("full.pcapng");
        // A disk that fills up after 20 000 bytes: the write that crosses the limit stores part of its batch, then fails.
        using (var writer = new PcapNgWriter(new FullDiskStream(File.Create(path), 20_000), leaveOpen: false, path))
        {
            int face = writer.AddInterface("net0");
            byte[] frame = FrameBuilder.Raw(B, A, 0x88b5, new byte[1000]);
            var error = Assert.Throws<CaptureFileException>(() =>
            {
                for (int i = 0; i < 1000; i++)
                {
                    writer.WriteFrame(face, i, FrameDirection.Inbound, frame);
                    if (i % 5 == 4)
                    {
                        writer.Flush(); // batches of 5 frames
                    }
                }
            });
            Assert.Equal(DeviceErrorIds.Capture.WriteFailed, error.ErrorId);
            // Nothing more is written after the failure (it would follow a partial block).
            Assert.Throws<CaptureFileException>(() => writer.WriteFrame(face, 0, FrameDirection.Inbound, frame));
        }

        using var reader = CaptureFileReader.Open(path);
        var read = new List<EthernetFrame>();
        var cut = Assert.Throws<CaptureFileException>(() =>
        {
            foreach (EthernetFrame f in reader.ReadFrames())
            {
                read.Add(f);
            }
        });
        Assert.Equal(DeviceErrorIds.Capture.Truncated, cut.ErrorId);
        // 20 000 bytes hold the headers (92 bytes) and 18 whole 1060-byte blocks: the 3 batches written before the failing
        // one and the first 3 blocks of the failing batch, whose 4th block is cut; every block before the cut is read.
        Assert.Equal(Enumerable.Range(0, read.Count).Select(i => (long)i), read.Select(f => f.UnixTimeNanoseconds));
        Assert.Equal(18, read.Count);
        Assert.Equal(92 + (18 * 1060), cut.Offset);
    }

    [Fact]
    public void AnExistingFileIsNeverOverwrittenUnlessAsked()
    {
        using var dir = new TempDirectory();
        string path = dir.File("keep.pcapng");
        File.WriteAllText(path, "precious");
        var error = Assert.Throws<CaptureFileException>(() => PcapNgWriter.Create(path, overwrite: false));
        Assert.Equal(DeviceErrorIds.Capture.FileExists, error.ErrorId);
        Assert.Equal("precious", File.ReadAllText(path));
        using (PcapNgWriter writer = PcapNgWriter.Create(path, overwrite: true))
        {
            writer.AddInterface("net0");
        }

        using var reader = CaptureFileReader.Open(path);
        Assert.Empty(reader.ReadFrames());
    }

    [Theory]
    [InlineData("0a0d0d0a" + "0c000000" + "4d3c2b1a")] // a section header whose length (12) is too short for itself and its magic
    [InlineData("0a0d0d0a" + "1c000000" + "11111111" + "0100000000000000ffffffffffffffff" + "1c000000")] // a bad byte-order magic
    [InlineData("01020304")] // neither pcap nor pcapng
    public void BrokenFilesGiveATypedError(string hex)
    {
        using var reader = new CaptureFileReader(new MemoryStream(Convert.FromHexString(hex)));
        var error = Assert.Throws<CaptureFileException>(() => reader.ReadFrames().ToList());
        Assert.Equal(DeviceErrorIds.Capture.InvalidFormat, error.ErrorId);
    }

    /// <summary>A file on a disk that is full after <c>limit</c> bytes: the write crossing it stores what fits, then fails as write(2) with ENOSPC would.</summary>
    private sealed class FullDiskStream(Stream inner, long limit) : Stream
    {
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
            long room = limit - inner.Position;
            if (count > room)
            {
                inner.Write(buffer, offset, (int)Math.Max(room, 0));
                inner.Flush();
                throw new IOException("No space left on device");
            }

            inner.Write(buffer, offset, count);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
