using System.Collections;
using System.Management.Automation.Provider;
using System.Text;

namespace VirtualDevices.PowerShell.Providers;

/// <summary>Set-Content and Add-Content of a xenstore node: the lines written become its value, joined by newlines, on close.</summary>
internal sealed class XenstoreContentWriter(string initial, Action<string> commit) : IContentWriter
{
    private readonly StringBuilder _value = new(initial);
    private bool _closed;

    public IList Write(IList content)
    {
        foreach (object? item in content)
        {
            if (_value.Length > 0)
            {
                _value.Append('\n');
            }

            _value.Append(item switch
            {
                System.Management.Automation.PSObject ps => ps.BaseObject.ToString(),
                _ => item?.ToString(),
            });
        }

        return content;
    }

    public void Seek(long offset, SeekOrigin origin)
    {
    }

    public void Close()
    {
        if (!_closed)
        {
            _closed = true;
            commit(_value.ToString());
        }
    }

    public void Dispose() => Close();
}
