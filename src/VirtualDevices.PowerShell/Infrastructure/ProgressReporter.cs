using System.Diagnostics;
using VirtualDevices.PowerShell.Display;

namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>
/// Turns byte counts from a long transfer into Write-Progress records, at most four a second, and only for
/// transfers large enough to be worth a progress bar (16 MiB: smaller ones take a few milliseconds).
/// </summary>
/// <remarks>
/// Reports come from the transfer's workers, several at once; each record is a new object, because the pipeline
/// thread writes it later and must not see it change.
/// </remarks>
internal sealed class ProgressReporter : IProgress<long>
{
    private const long Threshold = 16L << 20;
    private static readonly TimeSpan s_interval = TimeSpan.FromMilliseconds(250);
    private readonly object _gate = new();
    private readonly Action<ProgressRecord> _write;
    private readonly int _activityId;
    private readonly string _activity;
    private readonly long _total;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    // One interval before the start, so the first report is shown at once. (TimeSpan.MinValue here made
    // Elapsed - _last overflow on the first report: every transfer of 16 MiB or more failed.)
    private TimeSpan _last = -s_interval;
    private long _done;

    public ProgressReporter(Action<ProgressRecord> write, int activityId, string activity, long totalBytes)
    {
        _write = write;
        _activityId = activityId;
        _activity = activity;
        _total = totalBytes;
    }

    public void Report(long value)
    {
        if (_total < Threshold)
        {
            return;
        }

        ProgressRecord record;
        lock (_gate)
        {
            // Workers may report out of order: the bar never goes back.
            _done = Math.Max(_done, value);
            TimeSpan now = _clock.Elapsed;
            if (now - _last < s_interval)
            {
                return;
            }

            _last = now;
            record = Describe(ProgressRecordType.Processing);
        }

        _write(record);
    }

    /// <summary>Ends the bar with the whole transfer's figures (the last report may be up to 250 ms old).</summary>
    public void Complete()
    {
        if (_total < Threshold)
        {
            return;
        }

        ProgressRecord record;
        lock (_gate)
        {
            _done = _total;
            record = Describe(ProgressRecordType.Completed);
        }

        _write(record);
    }

    private ProgressRecord Describe(ProgressRecordType type)
    {
        double seconds = _clock.Elapsed.TotalSeconds;
        double rate = seconds > 0 ? _done / seconds : 0;
        return new ProgressRecord(_activityId, _activity, $"{ByteSize.Format(_done)} of {ByteSize.Format(_total)}, {ByteSize.FormatRate(rate)}")
        {
            RecordType = type,
            PercentComplete = (int)Math.Clamp(_done * 100 / _total, 0, 100),
            SecondsRemaining = type == ProgressRecordType.Completed ? 0 : rate > 0 ? (int)((_total - _done) / rate) : -1,
        };
    }
}
