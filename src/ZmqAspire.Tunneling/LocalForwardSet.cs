namespace ZmqAspire.Tunneling;

/// <summary>
/// Several local forwards opened together over ONE SSH session (one login, one credential use),
/// published only when every one is listening and closed together: the shape of
/// jupyter_client's <c>tunnel_to_kernel</c>, which needs five ports (shell, iopub, stdin,
/// control, heartbeat) but starts five separate <c>ssh</c> processes to get them.
/// </summary>
public sealed class LocalForwardSet : IDisposable
{
    private readonly LocalForward[] _forwards;

    private LocalForwardSet(LocalForward[] forwards) => _forwards = forwards;

    /// <summary>Gets the forwards, in the order their targets were given.</summary>
    public IReadOnlyList<LocalForward> Forwards => _forwards;

    /// <summary>Gets the local endpoints (<c>tcp://127.0.0.1:port</c>), in the order the targets were given.</summary>
    public IReadOnlyList<TcpEndpoint> LocalEndpoints => [.. _forwards.Select(f => f.LocalEndpoint)];

    /// <summary>
    /// Opens one local forward per target on <paramref name="session"/>. Either all open or
    /// none stays open: if one fails, those already opened are closed before the error is thrown.
    /// </summary>
    /// <param name="session">The SSH session that carries every forward.</param>
    /// <param name="targets">The targets as the SSH server sees them, <c>tcp://host:port</c>.</param>
    /// <returns>The open set; dispose it after the sockets that use it.</returns>
    /// <exception cref="FormatException">A target is not a target <c>tcp://host:port</c>
    /// (see <see cref="TcpEndpoint.ParseTarget"/>); nothing was opened.</exception>
    /// <exception cref="ArgumentException">No target is given.</exception>
    /// <exception cref="SshForwardException">A forward could not be opened; none is left open.</exception>
    public static LocalForwardSet Open(SshTunnelSession session, IEnumerable<string> targets)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(targets);
        var endpoints = targets.Select(TcpEndpoint.ParseTarget).ToArray(); // parse all before opening any
        if (endpoints.Length == 0)
        {
            throw new ArgumentException("Give at least one target.", nameof(targets));
        }

        var opened = new List<LocalForward>(endpoints.Length);
        try
        {
            foreach (var endpoint in endpoints)
            {
                opened.Add(session.OpenLocalForward(endpoint));
            }
        }
        catch
        {
            opened.ForEach(f => f.Dispose());
            throw;
        }

        return new LocalForwardSet([.. opened]);
    }

    /// <summary>Closes every forward of the set.</summary>
    public void Dispose()
    {
        foreach (var forward in _forwards)
        {
            forward.Dispose();
        }
    }
}
