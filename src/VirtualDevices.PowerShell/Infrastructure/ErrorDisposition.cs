namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>What a failure is to a command (<see cref="ErrorRecords.Classify"/>).</summary>
public enum ErrorDisposition
{
    /// <summary>The pipeline is stopping: the command ends quietly (PipelineStoppedException), reporting nothing.</summary>
    Stopped,

    /// <summary>The input's error: written as an error record, non-terminating where the input is one item of a pipeline.</summary>
    Reportable,

    /// <summary>A failure the module did not expect (a defect): a terminating <c>UnexpectedError</c>.</summary>
    Unexpected,
}
