namespace ZmqAspire.Tunneling;

/// <summary>
/// The data of a forward's failure (<see cref="LocalForward.Failed"/>, <see cref="RemoteForward.Failed"/>,
/// <see cref="SshTunnelSession.ChannelOpenFailed"/>, <see cref="SelfHealingForward.ForwardFailed"/>):
/// a connection could not be relayed to <see cref="Remote"/>.
/// </summary>
public sealed class ForwardFailedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="error">What failed; its <see cref="SshForwardException.Remote"/> names the forward's target.</param>
    /// <exception cref="ArgumentNullException"><paramref name="error"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="error"/> names no target (it was made with a standard constructor).</exception>
    public ForwardFailedEventArgs(SshForwardException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Remote = error.Remote ?? throw new ArgumentException("The error names no target: make it with SshForwardException(TcpEndpoint, string, Exception?).", nameof(error));
        Error = error;
    }

    /// <summary>
    /// Gets what failed. A channel the SSH server refused to open (RFC 4254 section 5.1) has no
    /// <see cref="Exception.InnerException"/> and its message gives the server's reason; an error
    /// while opening or relaying has the error underneath as its inner exception.
    /// </summary>
    public SshForwardException Error { get; }

    /// <summary>
    /// Gets the target that could not be reached: as the SSH server sees it for a local forward,
    /// as this process resolves it for a remote forward (<see cref="SshForwardException.Remote"/>).
    /// </summary>
    public TcpEndpoint Remote { get; }
}

/// <summary>The data of <see cref="SelfHealingForward.ForwardRecovered"/>: the SSH server opens channels to a target again after refusing them.</summary>
public sealed class ForwardRecoveredEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="remote">The target, as the SSH server sees it.</param>
    /// <exception cref="ArgumentNullException"><paramref name="remote"/> is null.</exception>
    public ForwardRecoveredEventArgs(TcpEndpoint remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        Remote = remote;
    }

    /// <summary>Gets the target that is reached again, as the SSH server sees it.</summary>
    public TcpEndpoint Remote { get; }
}
