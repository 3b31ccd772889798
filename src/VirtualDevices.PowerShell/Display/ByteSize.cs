using System.Globalization;

namespace VirtualDevices.PowerShell.Display;

/// <summary>
/// The one way the format views write sizes and rates: binary units (B, KiB, MiB, GiB, TiB, PiB, EiB), scaled so
/// that the number is below 1024, with one decimal (bytes have none): <c>512 B</c>, <c>64.0 MiB</c>,
/// <c>2.7 TiB</c>, <c>118.5 MiB/s</c>. Below 1000 of a unit the text is at most 10 characters (12 for a rate), so a
/// column of that width never cuts a figure.
/// </summary>
public static class ByteSize
{
    private static readonly string[] s_units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

    /// <summary>Formats a size in bytes.</summary>
    /// <param name="bytes">The size; negative sizes (unknown) are shown as <c>unknown</c>.</param>
    public static string Format(long bytes) => bytes < 0 ? "unknown" : Format((double)bytes);

    /// <summary>Formats a rate in bytes per second, as a size followed by <c>/s</c>.</summary>
    /// <param name="bytesPerSecond">The rate.</param>
    public static string FormatRate(double bytesPerSecond) =>
        (double.IsFinite(bytesPerSecond) && bytesPerSecond > 0 ? Format(bytesPerSecond) : "0 B") + "/s";

    private static string Format(double bytes)
    {
        int unit = 0;

        // Scale while the figure would print as 1024 or more; 1023.96 KiB rounds to "1024.0", so scale it too.
        while (unit < s_units.Length - 1 && Math.Round(bytes, unit == 0 ? 0 : 1) >= 1024)
        {
            bytes /= 1024;
            unit++;
        }

        return unit == 0
            ? bytes.ToString("0", CultureInfo.InvariantCulture) + " B"
            : bytes.ToString("0.0", CultureInfo.InvariantCulture) + " " + s_units[unit];
    }
}
