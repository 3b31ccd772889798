using System.Diagnostics;

namespace VirtualDevices.IO.Polling;

/// <summary>
/// How long a loop polls without sleeping before it blocks, learnt from the gaps between its events (the idea of
/// Linux's haltpoll governor). Waking an idle core here costs about 20-25 µs, and a client that sends its next request
/// as soon as it has the reply leaves the server a gap of about 40 µs (its own wake-up, then the send): a server that
/// sleeps in that gap pays a wake-up per request, one that polls through it does not (the xenstore round trip of a
/// blocking client: about 17,000/s sleeping, 24,000-36,000/s polling up to 50 µs, on this 2-core machine). Polling
/// costs a core while it lasts, so the window only grows while events keep arriving within <see cref="Max"/> of the
/// loop going idle, and halves at every longer gap: an idle loop, or one woken every millisecond, goes back to
/// sleeping at once after a few events (100, 50, 25, 12.5 µs, then none: under 0.2 ms of CPU in all).
/// </summary>
internal struct AdaptiveSpin
{
    private readonly long _max;
    private long _window;

    /// <summary>A spin of at most <paramref name="max"/>; zero never spins.</summary>
    /// <param name="max">The longest window.</param>
    public AdaptiveSpin(TimeSpan max)
    {
        _max = max <= TimeSpan.Zero ? 0 : (long)(max.TotalSeconds * Stopwatch.Frequency);
        _window = 0;
    }

    /// <summary>The longest window, in <see cref="Stopwatch"/> ticks.</summary>
    public readonly long Max => _max;

    /// <summary>How long to poll before the next sleep, in <see cref="Stopwatch"/> ticks (0: sleep at once).</summary>
    public readonly long Window => _window;

    /// <summary>Learns from one wait.</summary>
    /// <param name="waited">Ticks from the start of the wait (its polling included) to the event that ended it.</param>
    /// <param name="caughtPolling">True when the event came while polling (the window was long enough).</param>
    public void Record(long waited, bool caughtPolling)
    {
        if (_max == 0 || caughtPolling)
        {
            return;
        }

        if (waited <= _max)
        {
            // Slept, but the event came soon: a longer window would have caught it. Starts at an eighth of the
            // longest and doubles, so a steady gap is covered after a few requests.
            _window = Math.Min(_max, Math.Max(_window * 2, _max / 8));
        }
        else
        {
            // A long gap: polling would have been wasted. Halve; below a sixteenth, stop polling.
            _window /= 2;
            if (_window < _max / 16)
            {
                _window = 0;
            }
        }
    }
}
