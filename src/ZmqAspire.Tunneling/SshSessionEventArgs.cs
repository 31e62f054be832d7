namespace ZmqAspire.Tunneling;

/// <summary>The data of <see cref="SshTunnelSession.ErrorOccurred"/>: the SSH connection failed after it was established.</summary>
public sealed class SshSessionErrorEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="exception">SSH.NET's or the socket's error.</param>
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is null.</exception>
    public SshSessionErrorEventArgs(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        Exception = exception;
    }

    /// <summary>
    /// Gets the error SSH.NET reported on the connection: for example its
    /// <c>SshConnectionException</c> when the server closed the connection, or a
    /// <see cref="System.Net.Sockets.SocketException"/> when the network failed. When the server
    /// ended the session with SSH_MSG_DISCONNECT (RFC 4253 section 11.1), which SSH.NET does not
    /// report itself, an <c>SshConnectionException</c> whose <c>DisconnectReason</c> is the
    /// server's reason code and whose message names it and quotes the server's description.
    /// </summary>
    public Exception Exception { get; }
}

/// <summary>
/// The data of <see cref="SshTunnelSession.ServerAliveTimedOut"/>: the SSH server left a
/// keep-alive probe unanswered too long (OpenSSH's <c>ServerAliveInterval</c> × <c>ServerAliveCountMax</c>).
/// </summary>
public sealed class ServerAliveTimedOutEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="silence">How long the server had been silent with a probe outstanding when the session was dropped.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="silence"/> is negative.</exception>
    public ServerAliveTimedOutEventArgs(TimeSpan silence)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(silence, TimeSpan.Zero);
        Silence = silence;
    }

    /// <summary>
    /// Gets how long the server had been silent (no answer to a probe, no channel data) with a
    /// probe outstanding when the session was dropped: at least
    /// <see cref="SshTunnelOptions.ServerAliveInterval"/> × <see cref="SshTunnelOptions.ServerAliveCountMax"/>.
    /// </summary>
    public TimeSpan Silence { get; }
}
