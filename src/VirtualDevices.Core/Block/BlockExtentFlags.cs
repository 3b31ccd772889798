namespace VirtualDevices.Block;

/// <summary>The state of a range, as NBD's <c>base:allocation</c> context reports it.</summary>
[Flags]
public enum BlockExtentFlags
{
    /// <summary>Allocated data.</summary>
    Data = 0,
    /// <summary>Not allocated (a hole).</summary>
    Hole = 1,
    /// <summary>Reads as zeroes.</summary>
    Zero = 2,
}
