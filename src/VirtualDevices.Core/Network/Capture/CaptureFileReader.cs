using System.Buffers.Binary;
using System.Text;

namespace VirtualDevices.Network.Capture;

/// <summary>
/// Reads the Ethernet frames of a capture file: pcap (either byte order, microsecond or nanosecond magic) and pcapng
/// (any number of sections and interfaces, each interface's <c>if_tsresol</c> and <c>if_tsoffset</c>, enhanced and
/// simple packet blocks with <c>epb_flags</c> directions; other blocks are skipped). A file cut short gives the frames
/// before the cut, then <c>CaptureTruncated</c>; a broken one <c>CaptureInvalidFormat</c>.
/// </summary>
public sealed class CaptureFileReader : IDisposable
{
    /// <summary>The largest block or record read (16 MiB): a length beyond it is a broken file, not an allocation.</summary>
    public const int MaxBlockLength = 16 * 1024 * 1024;

    private const uint PcapMicro = 0xA1B2C3D4;
    private const uint PcapNano = 0xA1B23C4D;
    private const uint SectionHeaderType = 0x0A0D0D0A;
    private const uint ByteOrderMagic = 0x1A2B3C4D;
    private const int LinkTypeEthernet = 1;

    private readonly Stream _stream;
    private readonly bool _ownsStream;
    private readonly string? _path;
    private readonly List<Interface> _interfaces = [];
    private long _offset;
    private long _frames;
    private bool _bigEndian;

    /// <summary>Reads from <paramref name="stream"/> (from its current position).</summary>
    /// <param name="stream">The capture.</param>
    /// <param name="leaveOpen">True to leave the stream open when the reader is disposed.</param>
    /// <param name="path">The file's path, for errors and pcap's device name.</param>
    public CaptureFileReader(Stream stream, bool leaveOpen = false, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _ownsStream = !leaveOpen;
        _path = path;
    }

    /// <summary>Frames read so far.</summary>
    public long Frames => _frames;

    /// <summary>Opens a file.</summary>
    /// <param name="path">The file.</param>
    public static CaptureFileReader Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new CaptureFileReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 64 * 1024), leaveOpen: false, path);
    }

    /// <summary>Every frame of the file, in order, each a decoded copy; the device is the interface's name (<c>if_name</c>, else <c>ifN</c>).</summary>
    /// <exception cref="CaptureFileException">The file is cut short (after the frames before the cut), broken, or not of Ethernet frames.</exception>
    public IEnumerable<EthernetFrame> ReadFrames()
    {
        byte[] head = new byte[4];
        int got = ReadUpTo(head);
        if (got == 0)
        {
            yield break; // an empty file has no frames
        }

        if (got < 4)
        {
            throw Truncated("the file header");
        }

        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(head);
        if (magic == SectionHeaderType)
        {
            foreach (EthernetFrame frame in ReadPcapNg(head))
            {
                yield return frame;
            }
        }
        else if (magic is PcapMicro or PcapNano || BinaryPrimitives.ReverseEndianness(magic) is PcapMicro or PcapNano)
        {
            foreach (EthernetFrame frame in ReadPcap(magic))
            {
                yield return frame;
            }
        }
        else
        {
            throw Invalid($"it is neither pcap nor pcapng (magic 0x{magic:x8})");
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsStream)
        {
            _stream.Dispose();
        }
    }

    private IEnumerable<EthernetFrame> ReadPcap(uint magic)
    {
        _bigEndian = magic is not (PcapMicro or PcapNano);
        uint normalized = _bigEndian ? BinaryPrimitives.ReverseEndianness(magic) : magic;
        long unitNanoseconds = normalized == PcapNano ? 1 : 1000;
        byte[] header = new byte[20];
        ReadExactly(header, "the file header");
        uint linkType = U32(header.AsSpan(16)) & 0xFFFF; // the upper bits may say whether an FCS follows
        if (linkType != LinkTypeEthernet)
        {
            throw UnsupportedLinkType(linkType);
        }

        string device = _path is null ? "if0" : Path.GetFileNameWithoutExtension(_path);
        byte[] record = new byte[16];
        byte[] data = new byte[65536];
        while (true)
        {
            long start = _offset;
            int got = ReadUpTo(record);
            if (got == 0)
            {
                yield break;
            }

            if (got < record.Length)
            {
                throw Truncated("a record header", start);
            }

            long seconds = U32(record);
            long fraction = U32(record.AsSpan(4));
            int captured = checked((int)Math.Min(U32(record.AsSpan(8)), int.MaxValue));
            if (captured > MaxBlockLength)
            {
                throw Invalid($"a record of {captured} bytes at offset {start}");
            }

            if (captured > data.Length)
            {
                data = new byte[captured];
            }

            ReadExactly(data.AsSpan(0, captured), "a record", start);
            _frames++;
            yield return new EthernetFrame(device, (seconds * 1_000_000_000) + (fraction * unitNanoseconds), FrameDirection.Unknown, data.AsSpan(0, captured));
        }
    }

    private IEnumerable<EthernetFrame> ReadPcapNg(byte[] firstType)
    {
        byte[] block = new byte[4096];
        byte[] word = new byte[4];
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(firstType);
        long start = 0;
        while (true)
        {
            // The block's length: a section header's byte order is known only after its byte-order magic.
            ReadExactly(word, "a block header", start);
            uint rawLength = BinaryPrimitives.ReadUInt32LittleEndian(word);
            if (type == SectionHeaderType)
            {
                ReadExactly(word, "a section header", start);
                uint order = BinaryPrimitives.ReadUInt32LittleEndian(word);
                _bigEndian = order switch
                {
                    ByteOrderMagic => false,
                    0x4D3C2B1A => true,
                    _ => throw Invalid($"a section header at offset {start} with byte-order magic 0x{order:x8}"),
                };
                _interfaces.Clear();
            }

            uint length = _bigEndian ? BinaryPrimitives.ReverseEndianness(rawLength) : rawLength;
            int headerRead = type == SectionHeaderType ? 12 : 8;
            if (length < 12 || length % 4 != 0 || length > MaxBlockLength || length < headerRead + 4)
            {
                throw Invalid($"a block of length {length} at offset {start}");
            }

            if (block.Length < length)
            {
                block = new byte[length];
            }

            // The block whole (from its start), so that a cut inside it keeps nothing of it.
            BinaryPrimitives.WriteUInt32LittleEndian(block, 0);
            ReadExactly(block.AsSpan(headerRead, (int)length - headerRead), "a block", start);
            ReadOnlySpan<byte> body = block.AsSpan(8, (int)length - 12);
            if (U32(block.AsSpan((int)length - 4)) != length)
            {
                throw Invalid($"the block at offset {start}: its trailing length differs from its leading length");
            }

            EthernetFrame? frame = type switch
            {
                SectionHeaderType => null,
                1 => AddInterface(body, start),
                6 => EnhancedPacket(body, start),
                3 => SimplePacket(body),
                _ => null, // statistics, name resolution, decryption secrets, custom blocks: not frames
            };
            if (frame is not null)
            {
                _frames++;
                yield return frame;
            }

            start = _offset;
            int got = ReadUpTo(word);
            if (got == 0)
            {
                yield break;
            }

            if (got < 4)
            {
                throw Truncated("a block header", start);
            }

            type = U32(word);
            if (BinaryPrimitives.ReadUInt32LittleEndian(word) == SectionHeaderType)
            {
                type = SectionHeaderType; // a new section, perhaps of the other byte order (the type is a palindrome)
            }
        }
    }

    private EthernetFrame? AddInterface(ReadOnlySpan<byte> body, long start)
    {
        if (body.Length < 8)
        {
            throw Invalid($"an interface description at offset {start} of {body.Length} bytes");
        }

        int linkType = U16(body);
        string name = $"if{_interfaces.Count}";
        byte resolution = 6;
        long offsetSeconds = 0;
        foreach ((ushort code, ReadOnlyMemory<byte> value) in Options(body[8..].ToArray()))
        {
            ReadOnlySpan<byte> v = value.Span;
            switch (code)
            {
                case 2 when v.Length > 0:
                    name = Encoding.UTF8.GetString(v).TrimEnd('\0');
                    break;
                case 9 when v.Length >= 1:
                    resolution = v[0];
                    break;
                case 14 when v.Length >= 8:
                    offsetSeconds = _bigEndian ? BinaryPrimitives.ReadInt64BigEndian(v) : BinaryPrimitives.ReadInt64LittleEndian(v);
                    break;
            }
        }

        _interfaces.Add(new Interface(name, linkType, resolution, offsetSeconds));
        return null;
    }

    private EthernetFrame EnhancedPacket(ReadOnlySpan<byte> body, long start)
    {
        if (body.Length < 20)
        {
            throw Invalid($"an enhanced packet block at offset {start} of {body.Length} bytes");
        }

        Interface face = InterfaceOf((int)U32(body), start);
        ulong timestamp = ((ulong)U32(body[4..]) << 32) | U32(body[8..]);
        uint captured = U32(body[12..]);
        int padded = (int)((captured + 3) & ~3u);
        if (captured > body.Length - 20 || padded > body.Length - 20)
        {
            throw Invalid($"an enhanced packet block at offset {start} claims {captured} bytes in a block of {body.Length + 12}");
        }

        FrameDirection direction = FrameDirection.Unknown;
        foreach ((ushort code, ReadOnlyMemory<byte> value) in Options(body[(20 + padded)..].ToArray()))
        {
            if (code == 2 && value.Length >= 4)
            {
                direction = (FrameDirection)(U32(value.Span) & 3);
            }
        }

        return new EthernetFrame(face.Name, face.ToNanoseconds(timestamp), direction, body.Slice(20, (int)captured));
    }

    private EthernetFrame SimplePacket(ReadOnlySpan<byte> body)
    {
        Interface face = InterfaceOf(0, _offset);
        int original = (int)Math.Min(U32(body), int.MaxValue);
        int captured = Math.Min(original, body.Length - 4);
        return new EthernetFrame(face.Name, 0, FrameDirection.Unknown, body.Slice(4, captured));
    }

    private Interface InterfaceOf(int id, long start)
    {
        if (id < 0 || id >= _interfaces.Count)
        {
            throw Invalid($"a packet at offset {start} of interface {id}, which the section does not describe");
        }

        Interface face = _interfaces[id];
        return face.LinkType == LinkTypeEthernet ? face : throw UnsupportedLinkType((uint)face.LinkType);
    }

    private IEnumerable<(ushort Code, ReadOnlyMemory<byte> Value)> Options(byte[] options)
    {
        int offset = 0;
        while (offset + 4 <= options.Length)
        {
            ushort code = U16(options.AsSpan(offset));
            int length = U16(options.AsSpan(offset + 2));
            if (code == 0 || offset + 4 + length > options.Length)
            {
                yield break;
            }

            yield return (code, options.AsMemory(offset + 4, length));
            offset += 4 + ((length + 3) & ~3);
        }
    }

    private uint U32(ReadOnlySpan<byte> bytes) => _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes);

    private ushort U16(ReadOnlySpan<byte> bytes) => _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(bytes) : BinaryPrimitives.ReadUInt16LittleEndian(bytes);

    private int ReadUpTo(Span<byte> buffer)
    {
        int got = _stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        _offset += got;
        return got;
    }

    private void ReadExactly(Span<byte> buffer, string what, long? start = null)
    {
        if (ReadUpTo(buffer) < buffer.Length)
        {
            throw Truncated(what, start ?? _offset);
        }
    }

    private CaptureFileException Truncated(string what, long start = 0) =>
        new(DeviceErrorIds.Capture.Truncated, DeviceErrorCategory.ReadError, _path, start, _frames,
            $"The capture{Where} is cut short in {what} at offset {start}: the {_frames} frames before it were read.");

    private CaptureFileException Invalid(string what) =>
        new(DeviceErrorIds.Capture.InvalidFormat, DeviceErrorCategory.InvalidArgument, _path, _offset, _frames,
            $"The capture{Where} is not a valid pcap or pcapng file: {what} (after {_frames} frames).");

    private CaptureFileException UnsupportedLinkType(uint linkType) =>
        new(DeviceErrorIds.Capture.UnsupportedLinkType, DeviceErrorCategory.NotImplemented, _path, _offset, _frames,
            $"The capture{Where} holds link type {linkType}, not Ethernet (1).");

    private string Where => _path is null ? string.Empty : $" '{_path}'";

    /// <summary>An interface of the current section: its name, link type and clock.</summary>
    private readonly record struct Interface(string Name, int LinkType, byte Resolution, long OffsetSeconds)
    {
        public long ToNanoseconds(ulong timestamp)
        {
            // if_tsresol: bit 7 clear, 10^-n s per unit; set, 2^-n s per unit.
            int exponent = Resolution & 0x7F;
            Int128 nanoseconds;
            if ((Resolution & 0x80) == 0)
            {
                nanoseconds = exponent <= 9 ? (Int128)timestamp * Pow10(9 - exponent) : (Int128)timestamp / Pow10(exponent - 9);
            }
            else
            {
                nanoseconds = ((Int128)timestamp * 1_000_000_000) >> Math.Min(exponent, 127);
            }

            return (long)(nanoseconds + ((Int128)OffsetSeconds * 1_000_000_000));
        }

        private static Int128 Pow10(int n)
        {
            Int128 value = 1;
            for (int i = 0; i < n && i < 38; i++)
            {
                value *= 10;
            }

            return value;
        }
    }
}
