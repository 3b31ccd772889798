namespace VirtualDevices.IO;

/// <summary>What a <see cref="RequestSlot"/> tells its table (implemented by <see cref="RequestTable{TRequest}"/>).</summary>
internal interface IRequestPool
{
    /// <summary>The request entered the table (a use began); a closed table fails it at once.</summary>
    void Entered(RequestSlot slot);

    /// <summary>The request left the table (its final reply came, it was dropped or failed).</summary>
    void Left(RequestSlot slot);

    /// <summary>Every party let go: the slot may be rented again.</summary>
    void Return(RequestSlot slot);
}
