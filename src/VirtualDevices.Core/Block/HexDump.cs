using System.Text;

namespace VirtualDevices.Block;

/// <summary>The classic 16-bytes-a-line hex view (offset, hex bytes, printable ASCII), used by the format views.</summary>
public static class HexDump
{
    /// <summary>Formats bytes as lines of <c>offset  hex  |ascii|</c>.</summary>
    /// <param name="data">The bytes.</param>
    /// <param name="baseOffset">The offset shown for the first byte.</param>
    /// <param name="maxBytes">Stop after this many bytes (0 for all), noting how many were left out.</param>
    public static string Format(byte[]? data, long baseOffset = 0, int maxBytes = 0)
    {
        if (data is null || data.Length == 0)
        {
            return string.Empty;
        }

        int length = maxBytes > 0 ? Math.Min(maxBytes, data.Length) : data.Length;
        var text = new StringBuilder(((length + 15) / 16) * 78);
        for (int line = 0; line < length; line += 16)
        {
            text.Append((baseOffset + line).ToString("x10", System.Globalization.CultureInfo.InvariantCulture)).Append("  ");
            for (int i = 0; i < 16; i++)
            {
                if (line + i < length)
                {
                    text.Append(data[line + i].ToString("x2", System.Globalization.CultureInfo.InvariantCulture)).Append(' ');
                }
                else
                {
                    text.Append("   ");
                }

                if (i == 7)
                {
                    text.Append(' ');
                }
            }

            text.Append(" |");
            for (int i = 0; i < 16 && line + i < length; i++)
            {
                byte b = data[line + i];
                text.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
            }

            text.Append('|');
            if (line + 16 < length)
            {
                text.Append('\n');
            }
        }

        if (length < data.Length)
        {
            text.Append('\n').Append($"... {data.Length - length} more bytes");
        }

        return text.ToString();
    }
}
