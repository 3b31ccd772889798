using System.Collections;
using System.Management.Automation.Provider;

namespace VirtualDevices.PowerShell.Providers;

/// <summary>Get-Content of a xenstore node: its value, as one string.</summary>
internal sealed class XenstoreContentReader(string value) : IContentReader
{
    private bool _done;

    public IList Read(long readCount)
    {
        if (_done)
        {
            return Array.Empty<object>();
        }

        _done = true;
        return new object[] { value };
    }

    public void Seek(long offset, SeekOrigin origin) => _done = offset != 0 || origin == SeekOrigin.End;

    public void Close()
    {
    }

    public void Dispose()
    {
    }
}
