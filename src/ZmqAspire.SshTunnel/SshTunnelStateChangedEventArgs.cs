namespace ZmqAspire.Tunneling;

/// <summary>The data of <see cref="SshTunnel.StateChanged"/>: the tunnel's new state.</summary>
public sealed class SshTunnelStateChangedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="state">The tunnel's new state.</param>
    /// <exception cref="ArgumentNullException"><paramref name="state"/> is null.</exception>
    public SshTunnelStateChangedEventArgs(SshTunnelState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        State = state;
    }

    /// <summary>
    /// Gets the tunnel's new state. Two changes may be raised at the same time on different
    /// threads: compare <see cref="SshTunnelState.Since"/> and <see cref="SshTunnelState.SessionCount"/>
    /// rather than rely on the order of calls.
    /// </summary>
    public SshTunnelState State { get; }
}
