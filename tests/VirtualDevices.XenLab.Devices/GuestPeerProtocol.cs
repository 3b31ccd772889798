namespace VirtualDevices.XenLab.Devices;

/// <summary>
/// The payloads dom0 and the guest's peer (tests/c/xen-guest/guest-peer.c) agree on: the page pattern and the ring's
/// 64-byte entries (so a one-page ring holds 32), each side computing what the other must have written.
/// </summary>
internal static class GuestPeerProtocol
{
    public const int PayloadBytes = 56;

    /// <summary>pattern(seed, i) of guest-peer.c: byte i of pages filled with a seed.</summary>
    public static byte Pattern(uint seed, int i) => (byte)((seed * 31u) + ((uint)i * 7u) + ((uint)i >> 8) + 1u);

    public static void Fill(Span<byte> pages, uint seed, int start = 0)
    {
        for (int i = 0; i < pages.Length; i++)
        {
            pages[i] = Pattern(seed, start + i);
        }
    }

    /// <summary>The first byte that differs from the pattern, or -1.</summary>
    public static int Mismatch(ReadOnlySpan<byte> pages, uint seed, int start = 0)
    {
        for (int i = 0; i < pages.Length; i++)
        {
            if (pages[i] != Pattern(seed, start + i))
            {
                return i;
            }
        }

        return -1;
    }

    public static byte RequestByte(uint seq, int i) => (byte)((seq * 131u) + ((uint)i * 7u) + 0x5Au);

    public static unsafe LabRequest Request(uint seq)
    {
        var request = new LabRequest { Seq = seq, Len = PayloadBytes };
        for (int i = 0; i < PayloadBytes; i++)
        {
            request.Data[i] = RequestByte(seq, i);
        }

        return request;
    }

    /// <summary>answer() of guest-peer.c: each byte complemented and mixed with its index; Sum = seq + the bytes.</summary>
    public static unsafe LabResponse Answer(in LabRequest request)
    {
        var response = new LabResponse { Seq = request.Seq };
        uint sum = request.Seq;
        for (int i = 0; i < PayloadBytes; i++)
        {
            byte b = request.Data[i];
            response.Data[i] = (byte)(~b ^ i);
            sum += b;
        }

        response.Sum = sum;
        return response;
    }

    public static unsafe string? CheckRequest(in LabRequest request, uint seq)
    {
        if (request.Seq != seq || request.Len != PayloadBytes)
        {
            return $"request {seq}: seq {request.Seq} len {request.Len}";
        }

        for (int i = 0; i < PayloadBytes; i++)
        {
            if (request.Data[i] != RequestByte(seq, i))
            {
                return $"request {seq}: byte {i} is {request.Data[i]}, not {RequestByte(seq, i)}";
            }
        }

        return null;
    }

    public static unsafe string? CheckResponse(in LabResponse response, uint seq)
    {
        LabResponse want = Answer(Request(seq));
        LabResponse copy = response;
        var got = new ReadOnlySpan<byte>(&copy, sizeof(LabResponse));
        var expected = new ReadOnlySpan<byte>(&want, sizeof(LabResponse));
        return got.SequenceEqual(expected) ? null : $"response {seq}: seq {response.Seq} sum {response.Sum} (want {want.Sum})";
    }
}
