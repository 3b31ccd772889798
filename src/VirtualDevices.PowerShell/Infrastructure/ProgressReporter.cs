using System.Diagnostics;
using System.Management.Automation;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Turns byte counts from a long transfer into Write-Progress records, at most a few per second, and only for
/// transfers large enough to be worth a progress bar.
/// </summary>
internal sealed class ProgressReporter : IProgress<long>
{
    private const long Threshold = 16L << 20;
    private static readonly TimeSpan s_interval = TimeSpan.FromMilliseconds(250);
    private readonly Action<ProgressRecord> _write;
    private readonly ProgressRecord _record;
    private readonly long _total;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    // One interval before the start, so the first report is shown at once. (TimeSpan.MinValue here made
    // Elapsed - _last overflow on the first report: every transfer of 16 MiB or more failed.)
    private TimeSpan _last = -s_interval;

    public ProgressReporter(Action<ProgressRecord> write, int activityId, string activity, long totalBytes)
    {
        _write = write;
        _total = totalBytes;
        _record = new ProgressRecord(activityId, activity, "Starting");
    }

    public void Report(long value)
    {
        if (_total < Threshold || _clock.Elapsed - _last < s_interval)
        {
            return;
        }

        _last = _clock.Elapsed;
        double seconds = _clock.Elapsed.TotalSeconds;
        double rate = seconds > 0 ? value / seconds : 0;
        _record.PercentComplete = (int)Math.Clamp(value * 100 / _total, 0, 100);
        _record.StatusDescription = $"{value >> 20} of {_total >> 20} MiB, {rate / 1e6:F1} MB/s";
        _record.SecondsRemaining = rate > 0 ? (int)((_total - value) / rate) : -1;
        _write(_record);
    }

    public void Complete()
    {
        if (_total >= Threshold)
        {
            _record.RecordType = ProgressRecordType.Completed;
            _write(_record);
        }
    }
}
