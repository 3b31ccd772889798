using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace VirtualDevices.Network;

/// <summary>A 48-bit Ethernet address.</summary>
public readonly struct MacAddress : IEquatable<MacAddress>, ISpanFormattable
{
    private readonly ulong _value;

    private MacAddress(ulong value) => _value = value & 0xFFFF_FFFF_FFFFUL;

    /// <summary>ff:ff:ff:ff:ff:ff.</summary>
    public static MacAddress Broadcast { get; } = new(0xFFFF_FFFF_FFFFUL);

    /// <summary>00:00:00:00:00:00.</summary>
    public static MacAddress Zero { get; } = default;

    /// <summary>True for ff:ff:ff:ff:ff:ff.</summary>
    public bool IsBroadcast => _value == 0xFFFF_FFFF_FFFFUL;

    /// <summary>True when the group bit (the lowest bit of the first octet) is set.</summary>
    public bool IsMulticast => (_value & 0x0100_0000_0000UL) != 0;

    /// <summary>True when the locally-administered bit is set.</summary>
    public bool IsLocallyAdministered => (_value & 0x0200_0000_0000UL) != 0;

    /// <summary>Reads an address from its 6 bytes in network order.</summary>
    /// <param name="bytes">At least 6 bytes; the first 6 are used.</param>
    public static MacAddress Read(ReadOnlySpan<byte> bytes) =>
        new(((ulong)BinaryPrimitives.ReadUInt16BigEndian(bytes) << 32) | BinaryPrimitives.ReadUInt32BigEndian(bytes[2..]));

    /// <summary>Writes the 6 bytes in network order.</summary>
    /// <param name="destination">At least 6 bytes.</param>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(_value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], (uint)_value);
    }

    /// <summary>A random locally-administered unicast address, as Xen and QEMU generate for new interfaces.</summary>
    public static MacAddress CreateRandom()
    {
        Span<byte> bytes = stackalloc byte[6];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        bytes[0] = (byte)((bytes[0] & 0xFE) | 0x02);
        return Read(bytes);
    }

    /// <summary>Parses <c>aa:bb:cc:dd:ee:ff</c>, <c>aa-bb-cc-dd-ee-ff</c> or <c>aabbccddeeff</c>.</summary>
    /// <param name="text">The text.</param>
    /// <exception cref="FormatException">The text is not a MAC address.</exception>
    public static MacAddress Parse(string text) =>
        TryParse(text, out MacAddress address) ? address : throw new FormatException($"'{text}' is not a MAC address (expected aa:bb:cc:dd:ee:ff).");

    /// <summary>Parses a MAC address without throwing.</summary>
    /// <param name="text">The text.</param>
    /// <param name="address">The address, when the text is one.</param>
    public static bool TryParse([NotNullWhen(true)] string? text, out MacAddress address)
    {
        address = default;
        if (text is null)
        {
            return false;
        }

        ReadOnlySpan<char> span = text.AsSpan().Trim();
        Span<char> hex = stackalloc char[12];
        int digits = 0;
        char separator = '\0';
        for (int i = 0; i < span.Length; i++)
        {
            char c = span[i];
            if (char.IsAsciiHexDigit(c))
            {
                if (digits == 12)
                {
                    return false;
                }

                hex[digits++] = c;
            }
            else if ((c == ':' || c == '-') && digits % 2 == 0 && digits is > 0 and < 12 && (separator == '\0' || separator == c))
            {
                separator = c;
            }
            else
            {
                return false;
            }
        }

        if (digits != 12 || !ulong.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong value))
        {
            return false;
        }

        address = new MacAddress(value);
        return true;
    }

    /// <inheritdoc/>
    public bool Equals(MacAddress other) => _value == other._value;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is MacAddress other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _value.GetHashCode();

    /// <summary>Equality.</summary>
    public static bool operator ==(MacAddress left, MacAddress right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(MacAddress left, MacAddress right) => !left.Equals(right);

    /// <summary>Lower-case, colon-separated.</summary>
    public override string ToString() => string.Create(17, _value, static (span, value) =>
    {
        for (int i = 0; i < 6; i++)
        {
            byte b = (byte)(value >> (40 - (8 * i)));
            span[i * 3] = HexDigit(b >> 4);
            span[(i * 3) + 1] = HexDigit(b & 0xF);
            if (i < 5)
            {
                span[(i * 3) + 2] = ':';
            }
        }
    });

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc/>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        string text = ToString();
        charsWritten = text.Length <= destination.Length ? text.Length : 0;
        return text.AsSpan().TryCopyTo(destination);
    }

    private static char HexDigit(int value) => (char)(value < 10 ? '0' + value : 'a' + value - 10);
}
