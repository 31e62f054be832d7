namespace ZmqAspire.Tunneling;

/// <summary>The data of <see cref="SelfHealingForward.Connected"/>: a session is up and relaying.</summary>
public sealed class SshConnectedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="session">The session now relaying the forward's connections.</param>
    /// <param name="sessionNumber">Which session of the forward this is: 1 for the first login, one more for each login after it.</param>
    /// <exception cref="ArgumentNullException"><paramref name="session"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sessionNumber"/> is less than 1.</exception>
    public SshConnectedEventArgs(SshTunnelSession session, int sessionNumber)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfLessThan(sessionNumber, 1);
        Session = session;
        SessionNumber = sessionNumber;
    }

    /// <summary>Gets the session now relaying the forward's connections.</summary>
    public SshTunnelSession Session { get; }

    /// <summary>Gets which session of the forward this is: 1 for the first login, one more for each login after it.</summary>
    public int SessionNumber { get; }
}

/// <summary>The data of <see cref="SelfHealingForward.Disconnected"/>: the session was lost and a new login follows.</summary>
public sealed class SshDisconnectedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="reason">Why the session ended, in words (for example <c>SSH session error: ...</c>).</param>
    /// <param name="reconnectRequested"><see langword="true"/> when the session was dropped because <see cref="SelfHealingForward.Reconnect"/> asked for it, not because it failed.</param>
    /// <exception cref="ArgumentException"><paramref name="reason"/> is null or empty.</exception>
    public SshDisconnectedEventArgs(string reason, bool reconnectRequested)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        Reason = reason;
        ReconnectRequested = reconnectRequested;
    }

    /// <summary>Gets why the session ended, in words.</summary>
    public string Reason { get; }

    /// <summary>Gets a value indicating whether <see cref="SelfHealingForward.Reconnect"/> asked for the new login (no failure).</summary>
    public bool ReconnectRequested { get; }
}

/// <summary>The data of <see cref="SelfHealingForward.ConnectRetry"/>: a login failed and will be tried again.</summary>
public sealed class SshConnectRetryEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="error">Why the login failed: the SSH server is unreachable, or its name does not resolve.</param>
    /// <param name="retryDelay">The wait before the next attempt (exponential backoff with jitter).</param>
    /// <param name="attempt">Which attempt failed since the last session ended (or since the start): 1 for the first.</param>
    /// <exception cref="ArgumentNullException"><paramref name="error"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="retryDelay"/> is negative, or <paramref name="attempt"/> is less than 1.</exception>
    public SshConnectRetryEventArgs(SshServerUnreachableException error, TimeSpan retryDelay, int attempt)
    {
        ArgumentNullException.ThrowIfNull(error);
        ArgumentOutOfRangeException.ThrowIfLessThan(retryDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        Error = error;
        RetryDelay = retryDelay;
        Attempt = attempt;
    }

    /// <summary>Gets why the login failed (<see cref="SshServerUnreachableException.NameNotResolved"/> tells a name that does not resolve).</summary>
    public SshServerUnreachableException Error { get; }

    /// <summary>Gets the wait before the next attempt.</summary>
    public TimeSpan RetryDelay { get; }

    /// <summary>Gets which attempt failed since the last session ended (or since the start): 1 for the first.</summary>
    public int Attempt { get; }
}

/// <summary>The data of <see cref="SelfHealingForward.Faulted"/>: the forward gave up for good.</summary>
public sealed class SshTunnelFaultedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="error">Why the forward gave up (a host key, credential, key file or configuration error).</param>
    /// <exception cref="ArgumentNullException"><paramref name="error"/> is null.</exception>
    public SshTunnelFaultedEventArgs(SshTunnelException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Error = error;
    }

    /// <summary>
    /// Gets why the forward gave up: for example an <see cref="SshHostKeyRejectedException"/>,
    /// <see cref="SshTunnelAuthenticationException"/>, <see cref="SshPrivateKeyException"/> or
    /// <see cref="SshTunnelConfigurationException"/>.
    /// </summary>
    public SshTunnelException Error { get; }
}
