namespace ZmqAspire.Tunneling;

/// <summary>
/// Which parts of the tunnel's fast path are active on a session (docs/benchmarks.md). Each
/// reaches into SSH.NET by reflection, so a trimmed build or another SSH.NET version can lose
/// one; the session then still works, only slower. Internal: it names SSH.NET internals that
/// may change with any SSH.NET version; <see cref="SshTunnelSession.ToString"/> reports it for
/// logs (the client logs it when a tunnel comes up, and the trimmed images' test reads it there).
/// </summary>
[Flags]
internal enum TunnelFastPath
{
    /// <summary>None: plain SSH.NET (the fast path is off or nothing could be reached).</summary>
    None = 0,

    /// <summary>An immediate TCP ACK after every SSH message read (removes the 40 ms delayed-ACK stall).</summary>
    QuickAck = 1,

    /// <summary>The SSH connection's socket in blocking mode (one thread hop less per message).</summary>
    BlockingSocket = 2,

    /// <summary>Our own accept loop replaces SSH.NET's on local forwards.</summary>
    ForwardListener = 4,

    /// <summary>
    /// Our own TCP forwarding channels replace SSH.NET's: per-channel flow control (RFC 4254
    /// section 5.2), so a stalled local reader slows only its own channel. Not part of the speed
    /// switch <c>ZMQASPIRE_TUNNEL_FASTPATH=0</c> (it is a fix, not a speed-up); turned off only by
    /// <c>ZMQASPIRE_TUNNEL_OWNCHANNELS=0</c>, or lost when SSH.NET's internals change.
    /// </summary>
    OwnChannels = 8,

    /// <summary>
    /// Our channels write the server's data to the local socket once per read from the server,
    /// not once per SSH message (<see cref="ReceivedAhead"/>); needs <see cref="OwnChannels"/> and AES-GCM.
    /// </summary>
    HeldWrites = 16,
}
