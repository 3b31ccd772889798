namespace VirtualDevices.PowerShell.Infrastructure;

/// <summary>Server objects as the cmdlets write them: the core object, with the name the session knows it by.</summary>
internal static class ServerObjects
{
    public static PSObject Named(object server, string name)
    {
        PSObject wrapped = PSObject.AsPSObject(server);
        if (wrapped.Properties["Name"] is null)
        {
            wrapped.Properties.Add(new PSNoteProperty("Name", name));
        }

        return wrapped;
    }
}
