using System.Globalization;
using System.Text;

namespace VirtualDevices.PowerShell.Display;

/// <summary>
/// The hex view of <see cref="VirtualDevices.Block.BlockData"/> in the format file: byte for byte what
/// <c>hexdump -C</c> prints, so that a dump can be compared with (or diffed against) the real tool's.
/// </summary>
/// <remarks>
/// A line is an offset of at least 8 hex digits, two spaces, 16 bytes in two groups of 8, and the printable ASCII
/// between bars: 78 columns, so it fits an 80-column terminal. A line equal to the one before it is shown as a
/// single <c>*</c> for the whole run, and the last line is the offset just past the data, as hexdump ends its output.
/// Offsets of 4 GiB and more need more than 8 digits and widen the line, as they do in hexdump.
/// </remarks>
public static class HexDump
{
    private const int BytesPerLine = 16;

    /// <summary>Formats bytes as <c>hexdump -C</c> does.</summary>
    /// <param name="data">The bytes.</param>
    /// <param name="baseOffset">The offset shown for the first byte (as <c>hexdump -C -s</c> shows it).</param>
    /// <param name="maxBytes">Stop after this many bytes (0 for all), then say how many were left out.</param>
    public static string Format(byte[]? data, long baseOffset = 0, int maxBytes = 0)
    {
        if (data is null || data.Length == 0)
        {
            return string.Empty;
        }

        int length = maxBytes > 0 ? Math.Min(maxBytes, data.Length) : data.Length;
        var text = new StringBuilder(((length + BytesPerLine - 1) / BytesPerLine) * 79);
        bool starred = false;
        for (int line = 0; line < length; line += BytesPerLine)
        {
            int count = Math.Min(BytesPerLine, length - line);

            // hexdump compares each full line with the previous one and prints '*' once for a run of repeats.
            if (line > 0 && count == BytesPerLine
                && data.AsSpan(line, BytesPerLine).SequenceEqual(data.AsSpan(line - BytesPerLine, BytesPerLine)))
            {
                if (!starred)
                {
                    text.Append("*\n");
                    starred = true;
                }

                continue;
            }

            starred = false;
            AppendOffset(text, baseOffset + line).Append("  ");
            for (int i = 0; i < BytesPerLine; i++)
            {
                if (i < count)
                {
                    text.Append(data[line + i].ToString("x2", CultureInfo.InvariantCulture)).Append(' ');
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
            for (int i = 0; i < count; i++)
            {
                byte b = data[line + i];
                text.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
            }

            text.Append("|\n");
        }

        AppendOffset(text, baseOffset + length);
        if (length < data.Length)
        {
            text.Append('\n').Append(CultureInfo.InvariantCulture, $"... {data.Length - length} more bytes");
        }

        return text.ToString();
    }

    private static StringBuilder AppendOffset(StringBuilder text, long offset) =>
        text.Append(offset.ToString("x8", CultureInfo.InvariantCulture));
}
